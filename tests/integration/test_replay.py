"""Replay rebuilds the read tables from the log: equal to live projection, atomic, lossless."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis

from bench.sample_histories import append_histories, build_histories
from bench.snapshot import snapshot
from eventlog.append import EventAppender
from eventlog.keys import EXECUTION_GROUP, Keys
from eventlog.settings import Settings
from oee.parts import drain_projections, run_projectors, run_replay
from projections.orders_projection import OrdersProjection
from projections.projection import apply_batch
from schema.migrate import migrate
from tests.support.factories import order_placed
from tests.support.in_process_api import in_process_api
from tests.support.log_reading import read_log
from tests.support.polling import eventually
from tests.support.schemas import scratch_schema

pytestmark = pytest.mark.on_cluster_too

TABLES = OrdersProjection.tables


async def tables_of(url: str) -> dict[str, list[Any]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await snapshot(conn, TABLES)


async def group_info(redis: aioredis.Redis, keys: Keys, group: str) -> dict[str, Any]:
    groups: Any = await redis.xinfo_groups(keys.events)
    return next(g for g in groups if g["name"].decode() == group)


@pytest.fixture
def reference_url(server_urls: tuple[str, str]) -> Iterator[str]:
    with scratch_schema(server_urls[1], prefix="t_ref") as url:
        migrate(url)
        yield url


async def test_replay_rebuilds_exactly_what_live_projection_built_while_queries_answer(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    events = build_histories(1_000, seed=21)
    assert {"OrderConfirmed", "AttemptFailed", "OrderFailed", "OrderCancelled"} <= {
        e.type for e in events
    }
    await append_histories(EventAppender(redis, keys), events)
    await redis.xgroup_create(keys.events, EXECUTION_GROUP, id="0")
    await redis.xreadgroup(EXECUTION_GROUP, "worker", {keys.events: ">"}, count=100)
    execution_before = await group_info(redis, keys, EXECUTION_GROUP)
    await drain_projections(migrated)
    url = migrated.require_database_url()
    live = await tables_of(url)
    assert len(live["order_events"]) == len(events)

    probe = str(events[0].order_id)
    answers: list[int] = []
    async with in_process_api(migrated) as client:
        rebuilding = asyncio.create_task(run_replay(migrated, progress=False, chunk=500))
        # Its events: always read from PostgreSQL (an ended order's own answer is kept in memory).
        while not rebuilding.done():
            answers.append((await client.get(f"/api/orders/{probe}/events")).status_code)
            await asyncio.sleep(0)  # deliberate: in-process requests need not yield on their own
        result = await rebuilding
        after = await client.get(f"/api/orders/{probe}/events")
    assert answers, "the replay finished before a query could be made"
    assert set(answers) == {200}, "queries stopped answering during the replay"
    assert after.status_code == 200
    assert result["events"] == len(events)

    assert await tables_of(url) == live
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
        )
        indexes = [row[0] for row in await cursor.fetchall()]
        cursor = await conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, current_schema() || '__')"
        )
        leftovers = await cursor.fetchall()
    assert "orders_status_created_at_id_idx" in indexes
    assert "order_events_pkey" in indexes
    assert leftovers == [], "the rebuild left schemas behind"
    # Processor groups are never rewound; the live projection group stays where it was.
    assert await group_info(redis, keys, EXECUTION_GROUP) == execution_before
    assert await drain_projections(migrated) == 0


async def test_replay_into_an_empty_read_side_hands_over_to_the_live_group(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(50, seed=22))
    result = await run_replay(migrated, ["orders"], progress=False)
    assert result["groups"] == {"orders": "created"}
    group = await group_info(redis, keys, "projection:orders")
    assert group["last-delivered-id"].decode() == result["position"]
    assert group["lag"] == 0
    assert await drain_projections(migrated) == 0  # live projection continues after the replay
    more = build_histories(10, seed=23, start=datetime.now(UTC))
    await append_histories(EventAppender(redis, keys), more)
    assert await drain_projections(migrated) == len(more)


async def test_events_appended_during_a_replay_are_neither_lost_nor_applied_twice(
    migrated: Settings, redis: aioredis.Redis, keys: Keys, reference_url: str
) -> None:
    appender = EventAppender(redis, keys)
    await append_histories(appender, build_histories(600, seed=24))
    stop = asyncio.Event()
    projecting = asyncio.create_task(run_projectors(migrated, stop, name="live"))
    keep_appending = True

    async def append_meanwhile() -> int:
        rounds = 0
        while keep_appending:
            rounds += 1
            history = build_histories(8, seed=1_000 + rounds, start=datetime.now(UTC))
            await append_histories(appender, history)
            await asyncio.sleep(0)  # deliberate: the replay and live projector run in between
        return rounds

    appending = asyncio.create_task(append_meanwhile())
    try:
        result = await run_replay(migrated, progress=False, chunk=300)
        keep_appending = False
        rounds = await appending
        total = await redis.xlen(keys.events)

        async def caught_up() -> bool:
            group = await group_info(redis, keys, "projection:orders")
            return bool(group["lag"] == 0 and group["pending"] == 0)

        await eventually(caught_up, within=60, what="live projection caught up")
    finally:
        stop.set()
        await projecting
    assert rounds > 1
    assert result["events"] < total, "nothing was appended after the replay's last event"

    async with await psycopg.AsyncConnection.connect(reference_url, autocommit=True) as conn:
        await apply_batch(conn, OrdersProjection(), await read_log(redis, keys))
    assert await tables_of(migrated.require_database_url()) == await tables_of(reference_url)


async def test_a_replay_split_across_worker_processes_equals_live_projection(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    events = build_histories(300, seed=25)
    await append_histories(EventAppender(redis, keys), events)
    await drain_projections(migrated)
    url = migrated.require_database_url()
    live = await tables_of(url)
    result = await run_replay(migrated, progress=False, workers=2, chunk=400)
    assert result["workers"] == 2
    assert result["events"] == len(events)
    assert await tables_of(url) == live


async def test_a_replay_of_a_log_missing_its_first_entries_equals_projecting_what_is_left(
    migrated: Settings, redis: aioredis.Redis, keys: Keys, reference_url: str
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(400, seed=26))
    log = await read_log(redis, keys)
    await redis.xtrim(keys.events, minid=log[len(log) // 5].position)
    left = await read_log(redis, keys)
    assert any(r.event.sequence > 1 for r in left if r.event.order_id == left[0].event.order_id)
    result = await run_replay(migrated, progress=False, workers=2, chunk=300)
    assert result["events"] == len(left)
    async with await psycopg.AsyncConnection.connect(reference_url, autocommit=True) as conn:
        await apply_batch(conn, OrdersProjection(), left)
    assert await tables_of(migrated.require_database_url()) == await tables_of(reference_url)


async def test_entries_a_projection_cannot_apply_are_skipped_and_reported_live_and_in_replay(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    """A log written before intake refused such values (or by hand) may hold them: replay of the
    rest completes and equals live, and says which entries it left out and why."""
    appender = EventAppender(redis, keys)
    await append_histories(appender, build_histories(120, seed=27))
    poisoned = [
        order_placed(slippage=Decimal("1e-17000")),  # too precise for PostgreSQL
        order_placed(amount_in=Decimal("1e200000")),  # too large to sum exactly
    ]
    for event in poisoned:
        await appender.append([event], expected_sequence=0)
    added = await redis.xadd(
        keys.events, {"type": "OrderPlaced", "order_id": str(uuid.uuid4()), "data": b"{not json"}
    )
    undecodable = added.decode() if isinstance(added, bytes) else added
    await append_histories(appender, build_histories(30, seed=28, start=datetime.now(UTC)))
    entries = await redis.xlen(keys.events)
    await drain_projections(migrated)
    url = migrated.require_database_url()
    live = await tables_of(url)
    assert {str(e.order_id) for e in poisoned}.isdisjoint(row[0] for row in live["orders"])

    for workers in (1, 2):
        result = await run_replay(migrated, progress=False, workers=workers, chunk=200)
        assert await tables_of(url) == live
        assert result["events"] == entries
        skipped = result["skipped"]
        assert [s["orderId"] for s in skipped[:2]] == [str(e.order_id) for e in poisoned]
        assert skipped[2]["position"] == undecodable
        assert "slippage has 0 digits before the point and 17000 after" in skipped[0]["reason"]
        assert "amount_in has 200001 digits before the point" in skipped[1]["reason"]
        assert "cannot be decoded" in skipped[2]["reason"]
