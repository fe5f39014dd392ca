"""Benchmarks of the read side: projection events/s (one or more projector processes) and replay
events/s, with the CPU time of the Python processes per event, on a seeded log of realistic order
histories, and a check that the replay rebuilt exactly what live projection built; each rate also
as a fraction of PostgreSQL's binary COPY of the projected orders rows, in rows/s, measured in
the same run (`bench.postgres_ceiling`). Each run uses a schema and key prefix of its own.
`oee bench projection [--events N] [--projectors 1,2]`.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from asyncio.subprocess import Process
from collections.abc import Sequence
from typing import Any

import psycopg

from bench.postgres_ceiling import copy_per_second
from bench.projector_process import start_key
from bench.sample_histories import write_histories
from bench.scope import BenchScope, bench_scope
from bench.snapshot import snapshot
from eventlog.connections import redis_client
from eventlog.gc_tuning import fewer_collections
from eventlog.settings import Settings
from oee.parts import run_replay
from projections.orders_projection import OrdersProjection

EVENTS = 100_000
PROJECTORS = (1, 2)
BATCH_SIZE = 2_000
EVENTS_PER_ORDER = 7.6  # what build_histories averages
READY_WITHIN_SECONDS = 60


def children_cpu_seconds() -> float:
    """CPU time (user and system) of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_per_event(seconds: float, events: int) -> float | None:
    """Microseconds of CPU per event."""
    return round(seconds / events * 1e6, 1) if events else None


async def write_log(settings: Settings, events: int, seed: int = 1) -> int:
    orders = max(1, int(events / EVENTS_PER_ORDER))
    return len(await write_histories(settings, orders, seed=seed))


async def _line(child: Process, within: float | None) -> dict[str, Any]:
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), within)
    if not line:
        raise RuntimeError(f"a projector process exited with {await child.wait()}")
    message: dict[str, Any] = json.loads(line)
    return message


async def project_with_processes(
    scope: BenchScope, processes: int, batch_size: int
) -> dict[str, Any]:
    """Drain the whole log with `processes` projector processes in one group; events/s overall."""
    cpu_before = children_cpu_seconds()
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.projector_process",
            f"bench-{i}",
            "--batch-size",
            str(batch_size),
            env=scope.env,
            stdout=asyncio.subprocess.PIPE,
        )
        for i in range(processes)
    ]
    try:
        for child in children:
            await _line(child, READY_WITHIN_SECONDS)
        redis = redis_client(scope.settings)
        try:
            await redis.rpush(start_key(scope.settings), *["go"] * processes)
        finally:
            await redis.aclose()
        reports = [await _line(child, None) for child in children]
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
            await child.wait()
    handled = sum(r["handled"] for r in reports)
    # Includes each child's start-up (imports, connecting), about 0.5 s of CPU per process.
    cpu = children_cpu_seconds() - cpu_before
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    return {
        "processes": processes,
        "batchSize": batch_size,
        "events": handled,
        "seconds": round(seconds, 3),
        "eventsPerSecond": round(handled / seconds),
        "perProcess": [r["handled"] for r in reports],
        "cpuMicrosecondsPerEvent": cpu_per_event(cpu, handled),
    }


async def bench_replay(settings: Settings) -> dict[str, Any]:
    """Replay the (already projected) log and check it rebuilt the very same tables."""
    tables = OrdersProjection.tables
    async with await psycopg.AsyncConnection.connect(settings.require_database_url()) as conn:
        before = await snapshot(conn, tables)
    started = time.monotonic()
    cpu_before = time.process_time() + children_cpu_seconds()
    with fewer_collections():  # as `oee replay` runs
        result = await run_replay(settings, progress=sys.stderr.isatty())
    seconds = time.monotonic() - started
    cpu = time.process_time() + children_cpu_seconds() - cpu_before
    async with await psycopg.AsyncConnection.connect(settings.require_database_url()) as conn:
        same = await snapshot(conn, tables) == before
    return {
        "events": result["events"],
        "seconds": round(seconds, 3),
        "eventsPerSecond": round(result["events"] / seconds),
        "workers": result["workers"],
        "cpuMicrosecondsPerEvent": cpu_per_event(cpu, result["events"]),
        "equalsLive": same,
    }


def bench_projection(
    settings: Settings,
    events: int = EVENTS,
    projectors: Sequence[int] = PROJECTORS,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    """Project a fresh log of about `events` events with each count of projector processes; the
    log of the first count is then replayed and compared with what projection built."""
    results: dict[str, Any] = {"events": events}
    for count in projectors:
        with bench_scope(settings) as scope:
            written = asyncio.run(write_log(scope.settings, events))
            figures = asyncio.run(project_with_processes(scope, count, batch_size))
            if figures["events"] != written:
                raise RuntimeError(f"{written} events written, {figures['events']} projected")
            results[f"projection_{count}_process{'es' if count > 1 else ''}"] = figures
            if count == projectors[0]:
                results["replay"] = asyncio.run(bench_replay(scope.settings))
                database_url = scope.settings.require_database_url()
                results["copyCeiling"] = asyncio.run(copy_per_second(database_url, events))
    ceiling = results["copyCeiling"]["rowsPerSecond"]
    for figures in results.values():
        if isinstance(figures, dict) and "eventsPerSecond" in figures:
            figures["ofCopyCeiling"] = round(figures["eventsPerSecond"] / ceiling, 2)
    return results
