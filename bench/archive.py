"""The archive benchmark: a seeded log of realistic order histories copied into the PostgreSQL
archive by one archiver in this process (consumer group `archive`, batches of the settings'
size), timed from the first batch to the last commit. Figures: events/s, and the bytes an event
takes in Redis (the stream, per entry) and in the archive (table and indexes, per row). In a
schema and key prefix of its own. `oee bench archive [--events N]`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg

from archive.archiver import EventArchiver
from bench.projection import write_log
from bench.scope import bench_scope
from eventlog.connections import redis_client
from eventlog.consumer import Consumer
from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.wiring import archive_config, projection_connector

_ARCHIVE_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits AS i"
    " JOIN pg_class AS p ON p.oid = i.inhparent"
    " WHERE p.relname = 'event_archive' AND p.relnamespace = current_schema()::regnamespace"
)


async def bench_archive(base: Settings, events: int) -> dict[str, Any]:
    with bench_scope(base) as scope:
        settings = scope.settings
        logged = await write_log(settings, events)
        redis = redis_client(settings)
        archiver = EventArchiver(projection_connector(settings))
        consumer = Consumer(
            redis, Keys(settings.key_prefix), archive_config(settings, "bench"), archiver.handle
        )
        try:
            began = time.perf_counter()
            await consumer.drain()
            seconds = time.perf_counter() - began
            stream_bytes = await redis.memory_usage(Keys(settings.key_prefix).events, samples=0)
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
    }


def bench_archive_suite(settings: Settings, events: int) -> dict[str, Any]:
    """The `oee bench archive` suite."""
    return asyncio.run(bench_archive(settings, events))
