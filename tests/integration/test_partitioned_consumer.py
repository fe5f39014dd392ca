"""A consumer over a log of several partitions, on one Redis and on the test cluster: consumers
killed mid-handler lose nothing and apply nothing twice across the partitions, an entry that
always fails is dead-lettered in its own partition, and the `parallel` bound holds across the
partitions together."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import pytest
import redis.asyncio as aioredis

from eventlog.append import AppendRequest, EventAppender
from eventlog.codec import Recorded
from eventlog.keys import Keys
from eventlog.partitioned_consumer import PartitionedConsumer, shares
from eventlog.reading import read_order
from tests.support.consumer_configs import TEST_GROUP, quick_config
from tests.support.factories import order_placed, routing_started
from tests.support.killed_consumers import Kills, restart_until

pytestmark = pytest.mark.on_cluster_too

GROUP = TEST_GROUP
PARTITIONS = 4


@pytest.fixture
def parted(keys: Keys) -> Keys:
    return dataclasses.replace(keys, partitions=PARTITIONS)


async def _two_events_each(redis: aioredis.Redis, keys: Keys, orders: int) -> set[uuid.UUID]:
    appender = EventAppender(redis, keys)
    placed = [order_placed() for _ in range(orders)]
    await appender.append_many([AppendRequest([e], 0) for e in placed])
    following = [routing_started(e.order_id, sequence=2) for e in placed]
    await appender.append_many([AppendRequest([e], 1) for e in following])
    return {e.event_id for e in placed} | {e.event_id for e in following}


async def _pending(redis: aioredis.Redis, keys: Keys) -> int:
    total = 0
    for stream in keys.streams:
        summary: Any = await redis.xpending(stream, GROUP)
        total += int(summary["pending"])
    return total


async def test_consumers_killed_mid_handler_lose_nothing_and_apply_nothing_twice(
    redis: aioredis.Redis, parted: Keys, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE handled (event_id uuid PRIMARY KEY, seq int, order_id uuid)")
    expected = await _two_events_each(redis, parted, 400)
    rng = random.Random(4321)
    db = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    kills = Kills(rng)
    one_at_a_time = asyncio.Lock()  # the partitions' loops call the handler concurrently

    async def record(batch: Sequence[Recorded]) -> None:
        async with one_at_a_time, db.transaction():
            for recorded in batch:
                await db.execute(
                    "INSERT INTO handled VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (recorded.event.event_id, recorded.event.sequence, recorded.event.order_id),
                )

    async def handler(batch: Sequence[Recorded]) -> None:
        await kills.around(lambda: record(batch))

    stop = asyncio.Event()

    def start(name: str) -> asyncio.Task[None]:
        config = quick_config(name, batch_size=rng.randint(1, 30))
        return asyncio.create_task(PartitionedConsumer(redis, parted, config, handler).run(stop))

    async def progress() -> tuple[bool, str]:
        row = await (await db.execute("SELECT count(*) FROM handled")).fetchone()
        assert row is not None
        done = row[0] == len(expected) and await _pending(redis, parted) == 0
        return done, f"only {row[0]} handled"

    try:
        await restart_until(start, ["c1", "c2"], progress, stop, within=60)
        handled = {
            r[0] for r in await (await db.execute("SELECT event_id FROM handled")).fetchall()
        }
        orders = await (await db.execute("SELECT count(DISTINCT order_id) FROM handled")).fetchone()
    finally:
        await db.close()
    assert kills.count > 10, "the test did not interrupt the consumers enough to mean anything"
    assert handled == expected
    assert orders == (400,)


async def test_an_entry_that_always_fails_is_dead_lettered_in_its_partition(
    redis: aioredis.Redis, parted: Keys
) -> None:
    await _two_events_each(redis, parted, 40)
    poison_order = order_placed()
    await EventAppender(redis, parted).append([poison_order], expected_sequence=0)
    [poison] = await read_order(redis, parted, poison_order.order_id)
    seen: list[str] = []

    async def handler(batch: Sequence[Recorded]) -> None:
        if any(r.position == poison.position for r in batch):
            raise ValueError("cannot price this order")
        seen.extend(r.position for r in batch)

    consumer = PartitionedConsumer(redis, parted, quick_config("c1", max_deliveries=2), handler)
    await consumer.drain()
    assert len(seen) == 80
    home = parted.partition_of(poison_order.order_id)
    for partition in range(PARTITIONS):
        letters: Any = await redis.xrange(parted.dead_letters_in(partition))
        positions = [fields[b"position"].decode() for _, fields in letters]
        assert positions == ([poison.position] if partition == home else [])
    assert consumer.stats.dead_lettered == 1
    assert await _pending(redis, parted) == 0


def test_the_parallel_bound_is_split_among_the_partitions() -> None:
    assert shares(10, 4) == [3, 3, 2, 2]
    assert shares(3, 4) == [1, 1, 1, 1]  # one each at least: more than 3 in all
    assert shares(1, 1) == [1]


async def test_the_parallel_bound_holds_across_the_partitions_together(
    redis: aioredis.Redis, parted: Keys
) -> None:
    await _two_events_each(redis, parted, 20)
    gate = asyncio.Event()
    in_flight = 0
    most = 0
    handled = 0

    async def handler(batch: Sequence[Recorded]) -> None:
        nonlocal in_flight, most, handled
        in_flight += 1
        most = max(most, in_flight)
        await gate.wait()
        in_flight -= 1
        handled += len(batch)

    consumer = PartitionedConsumer(redis, parted, quick_config("c1", parallel=6), handler)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    deadline = time.monotonic() + 10
    while in_flight < 6:  # every partition has entries: each would take more if it could
        assert time.monotonic() < deadline, f"{in_flight} in flight"
        await asyncio.wait([running], timeout=0.01)
    gate.set()
    while handled < 40:
        assert time.monotonic() < deadline, f"{handled} handled"
        await asyncio.wait([running], timeout=0.01)
    stop.set()
    await running
    assert most == 6
