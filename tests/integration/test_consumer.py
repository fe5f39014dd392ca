"""The consumer-group loop: at-least-once delivery, exactly-once effects, dead letters, recovery."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
import pytest
import redis.asyncio as aioredis

from eventlog.append import AppendRequest, EventAppender
from eventlog.codec import Recorded
from eventlog.consumer import Consumer
from eventlog.consumer_health import live_consumers, publish_heartbeat
from eventlog.keys import Keys
from eventlog.reading import read_after
from eventlog.settings import Settings
from tests.support.consumer_configs import TEST_GROUP, quick_config
from tests.support.factories import order_placed
from tests.support.killed_consumers import Kills, restart_until
from tests.support.polling import eventually

pytestmark = pytest.mark.on_cluster_too

GROUP = TEST_GROUP


async def _append_orders(redis: aioredis.Redis, keys: Keys, count: int) -> list[uuid.UUID]:
    appender = EventAppender(redis, keys)
    events = [order_placed() for _ in range(count)]
    for start in range(0, count, 500):
        chunk = events[start : start + 500]
        await appender.append_many([AppendRequest([e], 0) for e in chunk])
    return [e.event_id for e in events]


async def _pending_count(redis: aioredis.Redis, keys: Keys) -> int:
    summary: Any = await redis.xpending(keys.events, GROUP)
    return int(summary["pending"])


async def test_consumers_cancelled_mid_handler_lose_nothing_and_apply_nothing_twice(
    redis: aioredis.Redis, keys: Keys, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE handled (event_id uuid PRIMARY KEY)")
        conn.execute("CREATE TABLE effects (id int PRIMARY KEY, applied bigint NOT NULL)")
        conn.execute("INSERT INTO effects VALUES (1, 0)")
    expected = set(await _append_orders(redis, keys, 1_000))
    rng = random.Random(1234)
    db = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    kills = Kills(rng)

    async def record(batch: Sequence[Recorded]) -> None:
        async with db.transaction():
            cursor = await db.execute(
                "INSERT INTO handled SELECT unnest(%s::uuid[]) ON CONFLICT DO NOTHING",
                ([r.event.event_id for r in batch],),
            )
            await db.execute(
                "UPDATE effects SET applied = applied + %s WHERE id = 1", (cursor.rowcount,)
            )

    async def handler(batch: Sequence[Recorded]) -> None:
        await kills.around(lambda: record(batch))

    stop = asyncio.Event()

    def start(name: str) -> asyncio.Task[None]:
        size = rng.randint(1, 40)
        return asyncio.create_task(
            Consumer(redis, keys, quick_config(name, batch_size=size), handler).run(stop)
        )

    async def progress() -> tuple[bool, str]:
        row = await (await db.execute("SELECT count(*) FROM handled")).fetchone()
        assert row is not None
        done = row[0] == len(expected) and await _pending_count(redis, keys) == 0
        return done, f"only {row[0]} handled"

    try:
        await restart_until(start, ["c1", "c2", "c3"], progress, stop, within=120)
        handled = {
            r[0] for r in await (await db.execute("SELECT event_id FROM handled")).fetchall()
        }
        applied = await (await db.execute("SELECT applied FROM effects")).fetchone()
    finally:
        await db.close()
    assert kills.count > 20, "the test did not interrupt the consumers enough to mean anything"
    assert handled == expected
    assert applied == (1_000,)
    assert await _pending_count(redis, keys) == 0


async def test_an_entry_that_always_fails_is_dead_lettered_and_the_rest_flow_on(
    redis: aioredis.Redis, keys: Keys
) -> None:
    await _append_orders(redis, keys, 20)
    poison = (await read_after(redis, keys, "0", count=5))[4].position
    seen: list[str] = []
    good_batches = 0

    async def handler(batch: Sequence[Recorded]) -> None:
        nonlocal good_batches
        for recorded in batch:
            if recorded.position == poison:
                raise ValueError("cannot price this order")
        seen.extend(r.position for r in batch)
        good_batches += 1

    consumer = Consumer(redis, keys, quick_config("c1", max_deliveries=3), handler)
    await consumer.drain()
    assert len(seen) == 19
    assert poison not in seen
    assert good_batches <= 6  # the bad entry is isolated by halves, not one entry at a time
    letters: Any = await redis.xrange(keys.dead_letters)
    assert len(letters) == 1
    fields = letters[0][1]
    assert fields[b"position"].decode() == poison
    assert fields[b"error"] == b"ValueError: cannot price this order"
    assert int(fields[b"deliveries"]) == 4
    assert fields[b"group"] == GROUP.encode()
    assert await _pending_count(redis, keys) == 0


async def test_a_consumer_recreates_its_group_after_redis_lost_everything(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    handled: list[str] = []

    async def handler(batch: Sequence[Recorded]) -> None:
        handled.extend(r.position for r in batch)

    stop = asyncio.Event()
    consumer = Consumer(redis, keys, quick_config("c1"), handler)
    task = asyncio.create_task(consumer.run(stop))
    await _append_orders(redis, keys, 3)
    await eventually(lambda: len(handled) == 3)
    # What a FLUSHALL or a restart without persistence does to this deployment's keys.
    async for key in redis.scan_iter(match=settings.log_keys().all()):
        await redis.unlink(key)
    await _append_orders(redis, keys, 2)
    await eventually(lambda: len(handled) == 5)
    assert not task.done()
    stop.set()
    await task
    assert await _pending_count(redis, keys) == 0


async def test_stop_finishes_entries_in_hand_and_removes_the_health_key(
    redis: aioredis.Redis, keys: Keys
) -> None:
    handled: list[str] = []
    release = asyncio.Event()

    async def handler(batch: Sequence[Recorded]) -> None:
        await release.wait()
        handled.extend(r.position for r in batch)

    stop = asyncio.Event()
    consumer = Consumer(redis, keys, quick_config("c1", parallel=4), handler)
    task = asyncio.create_task(consumer.run(stop))
    await _append_orders(redis, keys, 4)
    await eventually(lambda: consumer.stats.handled == 0 and len(consumer._in_flight) == 4)
    assert await redis.exists(keys.health(GROUP, "c1"))
    assert (await live_consumers(redis, keys)).get(GROUP) == ["c1"]
    stop.set()
    release.set()
    await task
    assert len(handled) == 4
    assert await _pending_count(redis, keys) == 0
    assert not await redis.exists(keys.health(GROUP, "c1"))
    assert GROUP not in await live_consumers(redis, keys)


def _lingering(
    redis: aioredis.Redis, keys: Keys, linger_ms: int, stop: asyncio.Event
) -> tuple[list[int], asyncio.Task[None]]:
    """A consumer that lingers `linger_ms` after a short batch, running until `stop`; the sizes
    of the batches it handles."""
    sizes: list[int] = []

    async def handler(batch: Sequence[Recorded]) -> None:
        sizes.append(len(batch))

    consumer = Consumer(redis, keys, quick_config("c1", linger_ms=linger_ms), handler)
    return sizes, asyncio.create_task(consumer.run(stop))


async def test_a_lingering_consumer_takes_what_arrived_meanwhile_as_one_batch(
    redis: aioredis.Redis, keys: Keys
) -> None:
    stop = asyncio.Event()
    sizes, task = _lingering(redis, keys, 1_000, stop)
    await _append_orders(redis, keys, 1)
    await eventually(lambda: sizes == [1], what="the first order handled")
    for _ in range(5):  # five appends while it lingers after that short batch
        await _append_orders(redis, keys, 1)
    await eventually(lambda: sum(sizes) == 6, what="all six handled")
    stop.set()
    await task
    assert sizes == [1, 5]


async def test_stop_ends_a_lingering_consumer_at_once(redis: aioredis.Redis, keys: Keys) -> None:
    stop = asyncio.Event()
    sizes, task = _lingering(redis, keys, 600_000, stop)
    await _append_orders(redis, keys, 1)
    await eventually(lambda: sizes == [1], what="the order handled")
    stop.set()  # it lingers for ten minutes unless the stop ends the wait
    await asyncio.wait_for(task, 30)
    assert await _pending_count(redis, keys) == 0


async def test_a_type_filter_acks_other_events_without_handling_them(
    redis: aioredis.Redis, keys: Keys
) -> None:
    from eventlog.append import EventAppender
    from tests.support.factories import routing_started

    appender = EventAppender(redis, keys)
    placed = order_placed()
    await appender.append([placed, routing_started(placed.order_id, 2)], expected_sequence=0)
    seen: list[str] = []

    async def handler(batch: Sequence[Recorded]) -> None:
        seen.extend(r.event.type for r in batch)

    config = quick_config("c1", parallel=4, types=frozenset({"OrderPlaced"}))
    consumer = Consumer(redis, keys, config, handler)
    await consumer.drain()
    assert seen == ["OrderPlaced"]
    assert consumer.stats.skipped == 1
    assert await _pending_count(redis, keys) == 0


async def test_a_consumer_retrying_an_unreachable_store_stops_when_told_and_keeps_the_entry(
    redis: aioredis.Redis, keys: Keys
) -> None:
    await _append_orders(redis, keys, 1)
    calls = 0

    async def store_down(batch: Sequence[Recorded]) -> None:
        nonlocal calls
        calls += 1
        raise psycopg.OperationalError("connection refused")

    consumer = Consumer(
        redis,
        keys,
        quick_config("c1", infrastructure_errors=(psycopg.OperationalError,)),
        store_down,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    await eventually(lambda: calls >= 3)  # retried in place, not failed
    stop.set()
    async with asyncio.timeout(5):  # a stop signal is honoured while the store is down
        await running
    assert consumer.stats.failures == 0
    assert await _pending_count(redis, keys) == 1  # left for the next consumer to reclaim


async def test_finding_live_consumers_reads_no_more_with_many_keys_and_drops_expired_ones(
    redis: aioredis.Redis, keys: Keys
) -> None:
    await publish_heartbeat(redis, keys, GROUP, "alive", ttl_seconds=60, handled=0)
    await publish_heartbeat(redis, keys, GROUP, "gone", ttl_seconds=60, handled=0)
    await redis.zadd(keys.heartbeats, {orjson.dumps([GROUP, "gone"]): 1.0})  # expired long ago
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(20_000):  # what a busy log leaves behind: one key per order and more
            pipe.set(f"{keys.prefix}:order:{i}", b"x")
        await pipe.execute()
    before: Any = await redis.info("commandstats")
    assert (await live_consumers(redis, keys)) == {GROUP: ["alive"]}
    after: Any = await redis.info("commandstats")
    assert after.get("cmdstat_scan", {}).get("calls", 0) == before.get("cmdstat_scan", {}).get(
        "calls", 0
    )
    await publish_heartbeat(redis, keys, GROUP, "alive", ttl_seconds=60, handled=1)
    assert await redis.zscore(keys.heartbeats, orjson.dumps([GROUP, "gone"])) is None
