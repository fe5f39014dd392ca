"""The archive on real Redis and PostgreSQL: every event of the log copied once, in log order and
exactly as logged, into monthly partitions; an archiver killed mid-batch and started again adds
every event once, positions gap-free."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis

from archive.archiver import EventArchiver
from bench.sample_histories import append_histories, build_histories
from eventlog.append import EventAppender
from eventlog.codec import Recorded
from eventlog.keys import Keys
from eventlog.settings import Settings
from eventlog.trim_point import TrimPoint, trim_point
from oee.parts import drain_archive
from oee.wiring import projection_connector
from schema.events import RoutingStarted, new_event
from tests.support.archive_reads import archived, logged_entries

pytestmark = pytest.mark.on_cluster_too


async def test_every_event_is_archived_once_in_log_order_exactly_as_logged(
    redis: aioredis.Redis, keys: Keys, migrated: Settings
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(150, seed=3))
    await drain_archive(migrated)
    logged = await logged_entries(redis, keys)
    assert len(logged) > 500
    assert archived(migrated) == logged
    await drain_archive(migrated, name="again")  # another archiver: nothing new to copy
    assert archived(migrated) == logged


async def test_a_batch_handed_over_again_adds_nothing_and_months_get_their_own_partition(
    redis: aioredis.Redis, keys: Keys, migrated: Settings
) -> None:
    order_id = uuid.uuid4()
    months = {
        "1700000000000-0": "2023_11",
        "1735689600000-0": "2025_01",
        "1735689600000-1": "2025_01",
    }
    batch = [
        Recorded(
            position, new_event(RoutingStarted(attempt=n + 1), order_id=order_id, sequence=n + 2)
        )
        for n, position in enumerate(months)
    ]
    archiver = EventArchiver(projection_connector(migrated), redis, keys)
    try:
        await archiver.handle(batch)
        await archiver.handle(batch)  # redelivered after a crash, say
    finally:
        await archiver.close()
    assert archiver.archived == 3
    with psycopg.connect(migrated.require_database_url()) as conn:
        rows = conn.execute(
            "SELECT position_ms || '-' || position_seq, tableoid::regclass::text FROM event_archive"
        ).fetchall()
    assert {position: table.rsplit(".", 1)[-1] for position, table in rows} == {
        position: f"event_archive_{month}" for position, month in months.items()
    }
    moment = datetime.fromtimestamp(1735689600, UTC)
    assert (moment.year, moment.month, moment.day) == (2025, 1, 1)  # a month's first millisecond


async def test_metrics_show_the_stream_and_how_far_the_archive_holds_it(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys, migrated: Settings
) -> None:
    empty = (await api.get("/api/metrics")).json()["log"]
    assert empty == {
        "length": 0,
        "oldestPosition": None,
        "archivedThrough": None,
        "trimPoint": "0-0",
        "trimHeldBy": "no archive",
    }
    await append_histories(EventAppender(redis, keys), build_histories(20, seed=4))
    logged = await logged_entries(redis, keys)
    await drain_archive(migrated)
    log = (await api.get("/api/metrics")).json()["log"]
    assert log == {
        "length": len(logged),
        "oldestPosition": logged[0][0],
        "archivedThrough": logged[-1][0],
        "trimPoint": log["trimPoint"],
        "trimHeldBy": "retention",  # a day's retention keeps everything just written
    }
    text = (await api.get("/metrics")).text
    newest_ms = float(logged[-1][0].split("-")[0])
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(values["oee_archive_newest_position_ms"]) == newest_ms
    assert 'oee_consumer_group_lag{group="archive"} 0.0' in text


async def test_the_trim_point_is_held_back_by_every_reader_still_needing_the_log(
    redis: aioredis.Redis, keys: Keys, migrated: Settings
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(20, seed=6))
    logged = [entry[0] for entry in await logged_entries(redis, keys)]
    assert await trim_point(redis, keys, 0) == TrimPoint("0-0", "no archive")
    await drain_archive(migrated)
    ms, seq = logged[-1].split("-")
    after_all = f"{ms}-{int(seq) + 1}"
    assert (await trim_point(redis, keys, 0)).position == after_all  # everyone is done
    assert (await trim_point(redis, keys, 86_400)).held_by == "retention"
    # A group that has read five entries and acked none holds the log at its first one.
    await redis.xgroup_create(keys.events, "slow", id="0")
    await redis.xreadgroup("slow", "c", {keys.events: ">"}, count=5)
    assert await trim_point(redis, keys, 0) == TrimPoint(logged[0], "slow")
    # One that has read nothing holds all of it.
    await redis.xgroup_create(keys.events, "stopped", id="0")
    assert await trim_point(redis, keys, 0) == TrimPoint("0-1", "stopped")
