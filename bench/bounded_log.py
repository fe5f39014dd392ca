"""The bounded log over time: orders placed at a steady rate through one processor and one
projector (which archives and trims) with a short retention, and Redis memory sampled as it
runs. Flat memory means it depends on the rate and the retention, not on history."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
from typing import Any

import psycopg

from bench.api_process import part_process
from bench.execution import placement, start_processor, wait_until_ready
from bench.scope import bench_scope, execution_run
from eventlog.append import EventAppender
from eventlog.connections import redis_client
from eventlog.settings import Settings

SAMPLE_EVERY_S = 10.0
_ARCHIVE_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0), "
    " (SELECT count(DISTINCT order_id) FROM event_archive) FROM pg_inherits AS i"
    " JOIN pg_class AS p ON p.oid = i.inhparent"
    " WHERE p.relname = 'event_archive' AND p.relnamespace = current_schema()::regnamespace"
)


async def _keys_bytes(redis: Any, prefix: str) -> tuple[int, int]:
    """The memory (MEMORY USAGE) and count of every key under `prefix`."""
    total = count = 0
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1_000):
        total += int(await redis.memory_usage(key, samples=0) or 0)
        count += 1
    return total, count


async def _run(
    settings: Settings, rate: int, seconds: float, processor: subprocess.Popen[bytes]
) -> dict[str, Any]:
    keys = settings.log_keys()
    redis = redis_client(settings)
    appender = EventAppender(redis, keys)
    samples: list[dict[str, Any]] = []
    placed = 0
    try:
        await wait_until_ready(redis, keys, ["bounded"], [processor])
        began = time.monotonic()
        next_sample = began
        while (now := time.monotonic()) - began < seconds:
            due = int((now - began) * rate) - placed
            if due > 0:
                await appender.append_many([placement(placed + n) for n in range(due)])
                placed += due
            if now >= next_sample:
                used = (await redis.info("memory"))["used_memory"]
                ours, key_count = await _keys_bytes(redis, settings.key_prefix)
                samples.append(
                    {
                        "seconds": round(now - began, 1),
                        "orders": placed,
                        "streamLength": int(await redis.xlen(keys.events)),
                        "keys": key_count,
                        "keysBytes": ours,
                        "usedMemory": int(used),
                    }
                )
                next_sample += SAMPLE_EVERY_S
            await asyncio.sleep(0.01)  # deliberate: pacing the offered rate
    finally:
        await redis.aclose()
    with psycopg.connect(settings.require_database_url()) as conn:
        row = conn.execute(_ARCHIVE_BYTES).fetchone()
    archive_bytes, archived_orders = (int(row[0]), int(row[1])) if row else (0, 0)
    return _figures(samples, placed, rate, settings, archive_bytes, archived_orders)


def _figures(
    samples: list[dict[str, Any]],
    placed: int,
    rate: int,
    settings: Settings,
    archive_bytes: int,
    archived_orders: int,
) -> dict[str, Any]:
    # Past the first retention (plus a sample): the steady state, where memory should be flat.
    steady = [s for s in samples if s["seconds"] > settings.log_retention_seconds + SAMPLE_EVERY_S]
    ours = [s["keysBytes"] for s in steady] or [0]
    half = len(ours) // 2
    within = rate * settings.log_retention_seconds
    return {
        "rate": rate,
        "retentionSeconds": settings.log_retention_seconds,
        "orders": placed,
        "steadyKeysBytes": {"min": min(ours), "max": max(ours), "median": statistics.median(ours)},
        "steadyFirstHalfMax": max(ours[:half] or ours),
        "steadySecondHalfMax": max(ours[half:] or ours),
        "steadyStreamLengthMax": max((s["streamLength"] for s in steady), default=0),
        "redisBytesPerOrderInRetention": round(statistics.median(ours) / within, 1)
        if within
        else None,
        "archiveBytesPerOrder": round(archive_bytes / archived_orders, 1)
        if archived_orders
        else None,
        "samples": samples,
    }


def bench_bounded_suite(settings: Settings, rate: int, seconds: float) -> dict[str, Any]:
    """`rate` orders/s for `seconds` through one processor and one projector, retention
    OEE_LOG_RETENTION_SECONDS (60 unless set lower)."""
    retention = min(settings.log_retention_seconds, 60)
    run = execution_run(settings, log_retention_seconds=retention)
    with bench_scope(run) as scope:
        processor = start_processor(scope.settings, "bounded")
        try:
            with part_process("project", scope):
                return asyncio.run(_run(scope.settings, rate, seconds, processor))
        finally:
            processor.terminate()
            processor.wait(timeout=30)
