"""Trimming the log: only below what every group has acked and the archive holds; a group that
stopped holds it back and loses nothing; trims racing appends and catch-up reads lose and repeat
nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from archive.trimmer import LogTrimmer
from bench.sample_histories import append_histories, build_histories
from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_after, read_order
from eventlog.settings import Settings
from oee.parts import drain_archive, drain_projections, run_projectors
from oee.wiring import execution_processor
from tests.support.archive_reads import archive_reader, archived, logged_entries
from tests.support.resting import drain_all, move_sol_usdc, place_limit, quiet_market
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import client, receive, receive_events, running_api

pytestmark = pytest.mark.on_cluster_too


async def test_a_group_that_stopped_reading_keeps_what_it_has_not_acked_in_redis(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(40, seed=7))
    logged = await logged_entries(redis, keys)
    await redis.xgroup_create(keys.events, "laggard", id="0")
    await drain_archive(migrated)
    await drain_projections(migrated)
    trimmer = LogTrimmer(redis, keys, retention_s=0)

    held = await trimmer.trim()
    assert (held.point.held_by, held.entries) == ("laggard", 0)
    assert await logged_entries(redis, keys) == logged

    read: Any = await redis.xreadgroup("laggard", "one", {keys.events: ">"}, count=25)
    first = read[0][1]
    assert (await trimmer.trim()).entries == 0  # read, not acked: still needed
    await redis.xack(keys.events, "laggard", *(position for position, _ in first))
    assert (await trimmer.trim()).entries == 25  # what it acked, and nothing more
    assert await logged_entries(redis, keys) == logged[25:]

    rest: Any = await redis.xreadgroup("laggard", "one", {keys.events: ">"}, count=10_000)
    assert [p.decode() for p, _ in rest[0][1]] == [entry[0] for entry in logged[25:]]


async def test_trims_racing_appends_and_catch_up_reads_lose_and_repeat_nothing(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    settings = migrated.model_copy(update={"archive_batch_size": 50, "log_retention_seconds": 0})
    events = build_histories(200, seed=8)
    appender = EventAppender(redis, keys)
    await append_histories(appender, events[:300])
    stop = asyncio.Event()
    trimmer = LogTrimmer(redis, keys, retention_s=0, interval_s=0.002)
    background = [
        asyncio.create_task(run_projectors(settings, stop, name="racer")),
        asyncio.create_task(trimmer.run(stop)),
    ]
    async with (
        running_api(settings) as server,
        archive_reader(settings) as archive,
    ):
        async with client(f"{server.ws_url}/api/orders/stream/all?after=0") as ws:
            assert (await receive(ws))["type"] == "connected"
            appending = asyncio.create_task(append_histories(appender, events[300:], chunk=40))
            paged: list[str] = []
            after = "0"
            while len(paged) < len(events):
                page = await read_after(redis, keys, after, 37, archive)
                paged += [r.position for r in page]
                after = page[-1].position if page else after
                await asyncio.sleep(0)  # deliberate: let the appends and trims interleave
            await appending
            streamed = await receive_events(ws, len(events))
        stop.set()
        await asyncio.gather(*background)
        await drain_archive(settings)
        whole = [entry[0] for entry in archived(settings)]
        assert len(whole) == len(events) == len(set(whole))
        assert paged == whole
        assert [m["position"] for m in streamed] == whole
        assert int(await redis.xlen(keys.events)) < len(events)  # it did trim meanwhile
        some = events[0].order_id
        history = await read_order(redis, keys, some, archive)
        assert [r.event for r in history] == [e for e in events if e.order_id == some]


async def test_a_resting_order_whose_placement_was_trimmed_fills_from_its_archived_history(
    make_settings: MakeSettings, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    settings = quiet_market(make_settings)
    async with archive_reader(settings) as archive:
        processor = execution_processor(redis, settings, name="p1", archive=archive)
        await processor.prepare()
        order_id = await place_limit(redis, keys, "200")
        await processor.triggers.tick()
        await drain_all(processor)
        await drain_archive(settings)
        trimmed = await LogTrimmer(redis, keys, retention_s=0).trim()
        assert trimmed.entries > 0
        assert not await redis.xrange(keys.events)  # its OrderPlaced and OrderOpened: archived
        assert await redis.exists(keys.order_positions(order_id))  # still live: kept

        await move_sol_usdc(processor, 220)
        await processor.triggers.tick()
        await drain_all(processor)
        history = [r.event.type for r in await read_order(redis, keys, order_id, archive)]
    assert history[:3] == ["OrderPlaced", "OrderOpened", "OrderTriggered"]
    assert history[-1] == "OrderConfirmed"
