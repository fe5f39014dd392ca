"""The archive benchmark: a seeded log of realistic order histories copied into the PostgreSQL
archive by one archiver in this process (consumer group `archive`, batches of the settings'
size), timed from the first batch to the last commit. Figures: events/s, and the bytes an event
takes in Redis (the stream, per entry) and in the archive (table and indexes, per row). Then
replay in the same run, twice: from the whole log in Redis, and from the archive plus the last
tenth of the log left in Redis (the rest trimmed), each checked equal to live projection. In a
schema and key prefix of its own. `oee bench archive [--events N]`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from archive.archiver import EventArchiver
from bench.projection import bench_replay, write_log
from bench.scope import bench_scope
from eventlog.connections import redis_client
from eventlog.consumer import Consumer
from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.parts import drain_projections
from oee.wiring import archive_config, projection_connector

TAIL_KEPT = 0.1  # the share of the log left in Redis for the replay from archive and log

_ARCHIVE_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits AS i"
    " JOIN pg_class AS p ON p.oid = i.inhparent"
    " WHERE p.relname = 'event_archive' AND p.relnamespace = current_schema()::regnamespace"
)


async def bench_archive(base: Settings, events: int) -> dict[str, Any]:
    with bench_scope(base) as scope:
        settings = scope.settings
        logged = await write_log(settings, events)
        await drain_projections(settings)
        from_log = await bench_replay(settings)
        redis = redis_client(settings)
        archiver = EventArchiver(projection_connector(settings), redis, settings.log_keys())
        consumer = Consumer(
            redis, settings.log_keys(), archive_config(settings, "bench"), archiver.handle
        )
        try:
            began = time.perf_counter()
            await consumer.drain()
            seconds = time.perf_counter() - began
            stream_bytes = await redis.memory_usage(settings.log_keys().events, samples=0)
            await _trim_all_but_the_tail(redis, settings.log_keys(), logged)
            from_both = await bench_replay(settings)
        finally:
            await archiver.close()
            await redis.aclose()
        with psycopg.connect(settings.require_database_url()) as conn:
            row = conn.execute(_ARCHIVE_BYTES).fetchone()
        archive_bytes = int(row[0]) if row else 0
    return {
        "events": logged,
        "archived": archiver.archived,
        "seconds": round(seconds, 2),
        "events_per_second": round(logged / seconds, 1),
        "redis_stream_bytes_per_event": round((stream_bytes or 0) / logged, 1),
        "archive_bytes_per_event": round(archive_bytes / logged, 1),
        "replay_from_log": from_log,
        "replay_from_archive_and_log": from_both,
        "replay_ratio": round(from_both["eventsPerSecond"] / from_log["eventsPerSecond"], 2),
    }


async def _trim_all_but_the_tail(redis: Any, keys: Keys, logged: int) -> None:
    """Trim the log below its last TAIL_KEPT (every group has read and acked all of it)."""
    kept = max(1, int(logged * TAIL_KEPT))
    tail: Any = await redis.xrevrange(keys.events, count=kept)
    await redis.xtrim(keys.events, minid=tail[-1][0].decode())


def bench_archive_suite(settings: Settings, events: int) -> dict[str, Any]:
    """The `oee bench archive` suite."""
    return asyncio.run(bench_archive(settings, events))
