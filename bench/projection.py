"""Benchmarks of the read side: projection events/s (one or more projector processes) and replay
events/s, with the CPU time of the Python processes per event, on a seeded log of realistic order
histories. Each run uses its own key prefix and schema.

    REDIS_URL=... DATABASE_URL=... python -m bench.projection [events] [--processes 1,2]
        [--batch 2000]
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from bench.sample_histories import write_histories
from bench.snapshot import snapshot
from eventlog.collector import fewer_collections
from eventlog.connections import redis_client
from eventlog.settings import Settings
from projections.orders_projection import OrdersProjection
from projections.replay import replay
from schema.migrate import migrate

REPO_ROOT = str(Path(__file__).resolve().parents[1])
EVENTS_PER_ORDER = 7.6  # what build_histories averages

# One projector process: waits for the start signal, drains the log, prints when it started/ended.
_PROJECTOR = """
import asyncio, json, sys, time
from eventlog.connections import redis_client
from eventlog.settings import Settings
from eventlog.collector import fewer_collections
from projections.run import drain_projections

async def main() -> None:
    settings = Settings.from_env()
    redis = redis_client(settings)
    await redis.blpop([settings.key_prefix + ":bench-go"], timeout=60)
    await redis.aclose()
    started = time.time()
    handled = await drain_projections(settings, name=sys.argv[1])
    print(json.dumps({"handled": handled, "started": started, "ended": time.time()}))

with fewer_collections():  # as `oee project` runs
    asyncio.run(main())
"""


@asynccontextmanager
async def bench_settings(base: Settings) -> AsyncIterator[Settings]:
    """A private key prefix and a fresh migrated schema, removed afterwards."""
    tag = f"bench{uuid.uuid4().hex[:8]}"
    base_url = base.require_database_url()
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{tag}"')
    url = make_conninfo(base_url, options=f"-c search_path={tag}")
    migrate(url)
    settings = base.model_copy(update={"database_url": url, "key_prefix": tag})
    try:
        yield settings
    finally:
        redis = redis_client(settings)
        async for key in redis.scan_iter(match=f"{tag}:*", count=1_000):
            await redis.unlink(key)
        await redis.aclose()
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{tag}" CASCADE')


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


async def project_with_processes(
    settings: Settings, processes: int, batch_size: int
) -> dict[str, Any]:
    """Drain the whole log with `processes` projector processes in one group; events/s overall."""
    env = {
        "PYTHONPATH": REPO_ROOT,
        "REDIS_URL": settings.require_redis_url(),
        "DATABASE_URL": settings.require_database_url(),
        "OEE_KEY_PREFIX": settings.key_prefix,
        "OEE_CONSUMER_BATCH_SIZE": str(batch_size),
    }
    cpu_before = children_cpu_seconds()
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PROJECTOR, f"bench-{i}", env=env, stdout=asyncio.subprocess.PIPE
        )
        for i in range(processes)
    ]
    redis = redis_client(settings)
    try:
        await asyncio.sleep(1.5)  # deliberate: let every child import and connect before the start
        await redis.rpush(f"{settings.key_prefix}:bench-go", *["go"] * processes)
    finally:
        await redis.aclose()
    reports = []
    for child in children:
        out, _ = await child.communicate()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
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


async def bench(
    base: Settings, events: int, processes: list[int], batch_size: int = 2_000
) -> dict[str, Any]:
    results: dict[str, Any] = {"events": events, "projection": [], "replay": None}
    for count in processes:
        async with bench_settings(base) as settings:
            written = await write_log(settings, events)
            figures = await project_with_processes(settings, count, batch_size)
            assert figures["events"] == written, figures
            results["projection"].append(figures)
            if count == processes[0]:
                results["replay"] = await bench_replay(settings)
    return results


async def bench_replay(settings: Settings) -> dict[str, Any]:
    """Replay the (already projected) log and check it rebuilt the very same tables."""
    tables = OrdersProjection.tables
    async with await psycopg.AsyncConnection.connect(settings.require_database_url()) as conn:
        before = await snapshot(conn, tables)
    started = time.monotonic()
    cpu_before = time.process_time() + children_cpu_seconds()
    with fewer_collections():  # as `oee replay` runs
        result = await replay(settings, progress=sys.stderr.isatty())
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


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    processes = [1, 2]
    batch_size = 2_000
    if "--processes" in args:
        at = args.index("--processes")
        processes = [int(p) for p in args[at + 1].split(",")]
        del args[at : at + 2]
    if "--batch" in args:
        at = args.index("--batch")
        batch_size = int(args[at + 1])
        del args[at : at + 2]
    events = int(args[0]) if args else 100_000
    results = asyncio.run(bench(Settings.from_env(), events, processes, batch_size))
    print(json.dumps(results, indent=2))
    print(f"{'what':<28}{'events':>10}{'seconds':>10}{'events/s':>12}{'CPU µs/event':>14}")
    rows = [(f"projection, {f['processes']} process(es)", f) for f in results["projection"]]
    if results["replay"]:
        rows.append((f"replay, {results['replay']['workers']} process(es)", results["replay"]))
    for label, f in rows:
        print(
            f"{label:<28}{f['events']:>10}{f['seconds']:>10}{f['eventsPerSecond']:>12}"
            f"{f['cpuMicrosecondsPerEvent']:>14}"
        )


if __name__ == "__main__":
    main()
