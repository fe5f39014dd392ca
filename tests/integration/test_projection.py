"""The orders projection: exactly-once effects under redelivery, reordering, crashes and two
projectors, against real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bench.sample_histories import append_histories, build_histories
from bench.snapshot import snapshot
from eventlog.append import EventAppender
from eventlog.codec import Recorded
from eventlog.consumer import Consumer
from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.wiring import projection_connector, projector_config
from projections.order_counters import ORDERS_IN_STATUS, ORDERS_PLACED, RETRIES
from projections.orders_projection import OrdersProjection
from projections.projection import apply_batch
from projections.projector import Projector
from schema.events import RoutingStarted
from schema.migrate import migrate
from schema.order_state import OrderState, fold
from tests.support.log_reading import read_log
from tests.support.polling import eventually
from tests.support.schemas import scratch_schema

TABLES = OrdersProjection.tables
pytestmark = pytest.mark.on_cluster_too

REPO_ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
async def db(migrated: Settings) -> AsyncIterator[psycopg.AsyncConnection]:
    conn = await psycopg.AsyncConnection.connect(migrated.require_database_url(), autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
def other_schema(server_urls: tuple[str, str]) -> Iterator[Callable[[], str]]:
    """A second, migrated schema: where a reference projection is built to compare with."""
    with contextlib.ExitStack() as schemas:

        def build() -> str:
            url = schemas.enter_context(scratch_schema(server_urls[1], prefix="t_ref"))
            migrate(url)
            return url

        yield build


async def tables_of(url: str) -> dict[str, list[Any]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await snapshot(conn, TABLES)


async def log_with_orders(redis: aioredis.Redis, keys: Keys, orders: int, seed: int = 1) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(orders, seed=seed))


def in_chunks(items: Sequence[Recorded], sizes: Callable[[], int]) -> list[list[Recorded]]:
    chunks: list[list[Recorded]] = []
    index = 0
    while index < len(items):
        size = sizes()
        chunks.append(list(items[index : index + size]))
        index += size
    return chunks


async def test_applying_the_same_batch_twice_changes_nothing(
    redis: aioredis.Redis, keys: Keys, db: psycopg.AsyncConnection
) -> None:
    await log_with_orders(redis, keys, 60)
    log = await read_log(redis, keys)
    projection = OrdersProjection()
    assert await apply_batch(db, projection, log) == len(log)
    first = await snapshot(db, TABLES)
    cursor = await db.execute("SELECT max(projected_at) FROM orders")
    written_at = await cursor.fetchone()
    assert await apply_batch(db, projection, log) == 0
    assert await apply_batch(db, projection, log[10:40]) == 0
    assert await snapshot(db, TABLES) == first
    cursor = await db.execute("SELECT max(projected_at) FROM orders")
    assert await cursor.fetchone() == written_at, "a redelivered batch rewrote order rows"


async def test_events_applied_out_of_order_end_at_the_highest_sequence(
    redis: aioredis.Redis, keys: Keys, db: psycopg.AsyncConnection, other_schema: Callable[[], str]
) -> None:
    await log_with_orders(redis, keys, 80, seed=2)
    log = await read_log(redis, keys)
    rng = random.Random(7)
    batches = in_chunks(log, lambda: rng.randint(1, 25))
    rng.shuffle(batches)
    projection = OrdersProjection()
    for batch in batches:
        await apply_batch(db, projection, batch)

    by_order: dict[Any, list[Recorded]] = {}
    for recorded in log:
        by_order.setdefault(recorded.event.order_id, []).append(recorded)
    cursor = await db.execute("SELECT id, sequence, status, last_position FROM orders")
    rows = {row[0]: row[1:] for row in await cursor.fetchall()}
    for order_id, events in by_order.items():
        state = fold(r.event for r in events)
        assert state is not None
        assert rows[order_id] == (state.sequence, state.status.value, events[-1].position)
    cursor = await db.execute("SELECT order_id, count(*) FROM order_events GROUP BY 1")
    assert dict(await cursor.fetchall()) == {k: len(v) for k, v in by_order.items()}

    in_order = other_schema()
    async with await psycopg.AsyncConnection.connect(in_order, autocommit=True) as conn:
        await apply_batch(conn, projection, log)
    assert await snapshot(db, TABLES) == await tables_of(in_order)


async def test_a_projector_killed_between_commit_and_ack_counts_nothing_twice(
    redis: aioredis.Redis, keys: Keys, migrated: Settings, other_schema: Callable[[], str]
) -> None:
    await log_with_orders(redis, keys, 300, seed=3)
    projection = OrdersProjection()
    projector = Projector(projection, projection_connector(migrated))
    rng = random.Random(11)
    kills = 0

    async def commit_then_die(batch: Sequence[Recorded]) -> None:
        nonlocal kills
        await projector.handle(batch)  # committed here ...
        if rng.random() < 0.3:  # ... and the process dies before the ack
            kills += 1
            raise asyncio.CancelledError

    try:
        while True:
            config = projector_config(migrated, projection, "crashy")
            config = dataclasses.replace(config, batch_size=rng.randint(1, 60), max_deliveries=100)
            try:
                await Consumer(redis, keys, config, commit_then_die).drain()
                break
            except asyncio.CancelledError:
                continue  # restarted under the same name: its pending entries come back first
    finally:
        await projector.close()
    assert kills > 5
    pending: Any = await redis.xpending(keys.events, "projection:orders")
    assert pending["pending"] == 0

    log = await read_log(redis, keys)
    reference = other_schema()
    async with await psycopg.AsyncConnection.connect(reference, autocommit=True) as conn:
        await apply_batch(conn, projection, log)  # once, in order, never interrupted
    live = await tables_of(migrated.require_database_url())
    assert live == await tables_of(reference)

    counters = {(name, label): value for name, label, value in live["metric_counters"]}
    placed = sum(v for (name, _), v in counters.items() if name == ORDERS_PLACED)
    assert placed == 300
    final = Counter(state.status.value for state in final_states(log).values())
    for status, count in final.items():
        assert counters[(ORDERS_IN_STATUS, status)] == count
    retries = sum(
        1
        for r in log
        if isinstance(r.event.payload, RoutingStarted) and r.event.payload.attempt > 1
    )
    assert retries > 0
    assert counters[(RETRIES, "")] == retries


def final_states(log: Sequence[Recorded]) -> dict[Any, OrderState]:
    by_order: dict[Any, list[Recorded]] = {}
    for recorded in log:
        by_order.setdefault(recorded.event.order_id, []).append(recorded)
    states = {order_id: fold(r.event for r in events) for order_id, events in by_order.items()}
    return {order_id: state for order_id, state in states.items() if state is not None}


async def test_two_projectors_in_one_group_build_the_same_tables_as_one(
    redis: aioredis.Redis, keys: Keys, migrated: Settings, other_schema: Callable[[], str]
) -> None:
    await log_with_orders(redis, keys, 400, seed=4)
    projection = OrdersProjection()
    connect = projection_connector(migrated)
    projectors = [Projector(projection, connect), Projector(projection, connect)]
    consumers = [
        Consumer(
            redis,
            keys,
            dataclasses.replace(projector_config(migrated, projection, f"p{i}"), batch_size=size),
            projector.handle,
        )
        for i, (projector, size) in enumerate(zip(projectors, (7, 11), strict=True))
    ]
    try:
        await asyncio.gather(*(consumer.drain() for consumer in consumers))
    finally:
        for projector in projectors:
            await projector.close()
    assert all(consumer.stats.handled > 0 for consumer in consumers)

    reference = other_schema()
    async with await psycopg.AsyncConnection.connect(reference, autocommit=True) as conn:
        await apply_batch(conn, projection, await read_log(redis, keys))
    assert await tables_of(migrated.require_database_url()) == await tables_of(reference)


_PROJECTOR_PROCESS = """
import asyncio, signal, sys
from eventlog.settings import Settings
from oee.parts import run_projectors

async def main() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await run_projectors(Settings.from_env(), stop, name=sys.argv[1])

asyncio.run(main())
"""


async def test_two_projector_processes_build_the_same_tables_as_one(
    redis: aioredis.Redis, keys: Keys, migrated: Settings, other_schema: Callable[[], str]
) -> None:
    env = {
        **os.environ,
        **migrated.to_environ(),
        "PYTHONPATH": REPO_ROOT,
        "OEE_CONSUMER_BATCH_SIZE": "25",
        "OEE_CONSUMER_BLOCK_MS": "20",
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PROJECTOR_PROCESS, name, env=env
        )
        for name in ("proc-a", "proc-b")
    ]
    try:
        for seed in (5, 6, 7):  # appended while both run
            await log_with_orders(redis, keys, 150, seed=seed)
        expected = await redis.xlen(keys.events)

        async def all_applied() -> bool:
            async with await psycopg.AsyncConnection.connect(migrated.require_database_url()) as c:
                row = await (await c.execute("SELECT count(*) FROM order_events")).fetchone()
            try:
                pending: Any = await redis.xpending(keys.events, "projection:orders")
            except ResponseError:  # the group is not there yet
                return False
            return row is not None and row[0] == expected and pending["pending"] == 0

        await eventually(all_applied, within=60, what="both processes projected the log")
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(process.wait(), 30) for process in processes]
    assert codes == [0, 0]
    groups: Any = await redis.xinfo_consumers(keys.events, "projection:orders")
    assert {g["name"] for g in groups} == {b"proc-a", b"proc-b"}

    reference = other_schema()
    async with await psycopg.AsyncConnection.connect(reference, autocommit=True) as conn:
        await apply_batch(conn, OrdersProjection(), await read_log(redis, keys))
    assert await tables_of(migrated.require_database_url()) == await tables_of(reference)
