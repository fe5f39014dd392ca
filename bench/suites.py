"""`oee bench`: runs the benchmark suites against the configured servers (or embedded ones) and
prints their figures as JSON and as a table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import describe_machine
from eventlog.settings import Settings


@dataclass(frozen=True)
class BenchOptions:
    """What the suites can be told; each suite reads the options it names in its help."""

    events: int = 100_000
    projectors: tuple[int, ...] = (1, 2)
    batch_size: int = 2_000
    orders: int = 5_000
    processors: tuple[int, ...] = (1, 2)
    seconds: float = 5.0
    clients: int = 1_000
    runs: int = 3
    keys: bool = False
    resting: int = 10_000
    rate: int | None = None  # bounded: 100, e2e: 1,000
    backlog: int = 100_000
    url: str | None = None


# Each suite imports its module only when it runs, so that `oee --help` stays quick.
def _eventlog(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.eventlog import bench_eventlog

    return bench_eventlog(settings, options.events)


def _partitions(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.partitioned_appends import bench_partitioned_appends

    return bench_partitioned_appends(settings, options.events)


def _api(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.placement import bench_api

    return bench_api(settings, options.seconds, options.keys)


def _health(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.health import bench_health

    return bench_health(settings, options.seconds, options.backlog)


def _http(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.side_by_side import bench_side_by_side

    orders = min(options.orders, 1_000)
    return bench_side_by_side(settings, options.url, orders, options.seconds)


def _query(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.query import bench_query

    return bench_query(settings, options.orders, options.seconds, options.keys)


def _execution(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.execution import bench_execution_suite

    return bench_execution_suite(settings, options.orders, options.processors)


def _projection(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.projection import bench_projection

    return bench_projection(settings, options.events, options.projectors, options.batch_size)


def _websocket(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.websocket import run_websocket_bench

    return run_websocket_bench(settings, options.clients)


def _resting(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.resting import bench_resting_suite

    figures: dict[str, Any] = bench_resting_suite(settings, options.resting)
    return figures


def _archive(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.archive import bench_archive_suite

    return bench_archive_suite(settings, options.events)


def _bounded(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.bounded_log import bench_bounded_suite

    return bench_bounded_suite(settings, options.rate or 100, options.seconds)


def _e2e(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.end_to_end import bench_end_to_end

    rate = options.rate or 1_000
    return {
        "full_rate": bench_end_to_end(settings, rate, options.seconds),
        "half_rate": bench_end_to_end(settings, rate / 2, options.seconds),
    }


def _market(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.one_sided import bench_one_sided_suite

    return bench_one_sided_suite(settings, options.orders)


def _startup(settings: Settings, options: BenchOptions) -> dict[str, Any]:
    from bench.startup import bench_startup

    return bench_startup(options.runs)


Suite = Callable[[Settings, BenchOptions], dict[str, Any]]

# suite name → (what runs it, what it measures).
SUITES: dict[str, tuple[Suite, str]] = {
    "eventlog": (
        _eventlog,
        "appends/s (one at a time, pipelined), the pipelined rate as a fraction of Redis's own"
        " XADD rate (entries of our events' size, measured in the same run), and events/s"
        " through the consumer loop (one consumer, two), over --events events",
    ),
    "partitions": (
        _partitions,
        "appends/s (pipelined, --events new orders) into a log of 1, 2, 4 and 8 partitions, and"
        " the CPU seconds and commands of each Redis server meanwhile (each master of a cluster"
        " named by REDIS_CLUSTER_URL)",
    ),
    "api": (
        _api,
        "orders accepted/s at saturation (64 connections) and accept p50/p99 at 1,000 orders/s"
        " offered, one `oee api` process (--seconds)",
    ),
    "health": (
        _health,
        "GET /health per second and p50/p99 at saturation (64 connections, one `oee api`"
        " process), on a fresh log and with --backlog orders waiting, each as a fraction of a"
        " bare Starlette GET of a fixed body measured in the same run (--seconds)",
    ),
    "http": (
        _http,
        "side by side: POST /api/orders/execute, GET /api/orders/{id} and GET /health at"
        " saturation (64 connections, --seconds each) against --url (any implementation of"
        " this API) or an `oee api` of its own, over up to 1,000 of --orders orders it places"
        " first, each as a fraction of a ceiling measured in the same run (a bare Starlette"
        " GET of a fixed body; a bare Starlette POST that validates a placement's body and"
        " does one XADD)",
    ),
    "query": (
        _query,
        "GET /api/orders/{id} per second at saturation, server CPU per GET and p50/p99 at"
        " 1,000/s offered, over --orders projected orders (--seconds)",
    ),
    "execution": (
        _execution,
        "orders executed end to end per second, latency p50/p99, CPU per order and peak memory,"
        " --orders orders through each count of --processors processor processes",
    ),
    "e2e": (
        _e2e,
        "end to end through one API, one processor and one projector process (venues without"
        " latency, limits lifted): placements offered at --rate/s (1,000 unless given) for"
        " --seconds, then at half that rate; accepted and confirmed per second, the backlog when"
        " the offer ended, accept to confirmed on the WebSocket and to confirmed through GET"
        " p50/p99, CPU seconds of each process (Redis and PostgreSQL too) and peak RSS",
    ),
    "projection": (
        _projection,
        "projection events/s by each count of --projectors projector processes over a seeded"
        " log of about --events events (--batch-size), then replay events/s of that log and"
        " whether it rebuilt the live tables exactly (equalsLive); each rate also as a fraction"
        " of PostgreSQL's binary COPY of the projected orders rows (rows/s, same run)",
    ),
    "websocket": (
        _websocket,
        "WebSocket messages delivered/s, delivery p50/p99, server CPU per message and memory per"
        " idle connection, --clients sockets on one API process, without and with deflate",
    ),
    "resting": (
        _resting,
        "limit and sniper orders: --resting orders opened/s by one processor, trigger latency"
        " p50/p99 from a pool change to each order's routing over 20 market moves, launch to"
        " submitted p50/p99 for 1,000 sniper orders, and processor and Redis memory with the"
        " orders resting",
    ),
    "archive": (
        _archive,
        "events/s copied from the log into the PostgreSQL archive by one archiver over a seeded"
        " log of about --events events, and bytes per event in Redis and in the archive",
    ),
    "bounded": (
        _bounded,
        "the bounded log: --rate orders/s for --seconds through one processor and one projector"
        " with a retention of 60 s (or OEE_LOG_RETENTION_SECONDS if lower), the memory of the"
        " engine's Redis keys sampled every 10 s (flat once the first retention has passed),"
        " and bytes per order in Redis and in the archive",
    ),
    "market": (
        _market,
        "one-sided flow: --orders orders all selling SOL for USDC through one processor, with the"
        " venues' arbitrage and without: outcomes by error code and how low SOL/USDC went",
    ),
    "startup": (
        _startup,
        "seconds from `oee up` to a healthy /health, cold and warm, median and worst of --runs"
        " (always embedded servers)",
    ),
}


@contextlib.contextmanager
def _servers(settings: Settings) -> Iterator[Settings]:
    if settings.redis_url and settings.database_url:
        yield settings
        return
    from oee.embedded import EmbeddedServers

    with tempfile.TemporaryDirectory(prefix="oee-bench-") as folder:
        servers = EmbeddedServers(Path(folder))
        redis_url, database_url = servers.start()
        try:
            yield settings.model_copy(
                update={
                    "redis_url": settings.redis_url or redis_url,
                    "database_url": settings.database_url or database_url,
                }
            )
        finally:
            servers.stop()


def run_bench(settings: Settings, args: argparse.Namespace) -> int:
    """Run the suites `args` name (or all), print the figures and, with --plot, draw the HTTP
    loads' timelines."""
    from bench.load_plot import HTTP_LOAD_SUITES
    from bench.suite_progress import suite_progress

    chosen = list(SUITES) if "all" in args.suite else list(dict.fromkeys(args.suite))
    if args.plot and not HTTP_LOAD_SUITES.intersection(chosen):
        loads = ", ".join(sorted(HTTP_LOAD_SUITES))
        print(f"oee bench: --plot draws HTTP loads, which only {loads} run", file=sys.stderr)
        return 2
    options = BenchOptions(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(BenchOptions)}
    )
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
    }
    with _servers(settings) as live, suite_progress(chosen) as starting:
        results["machine"] = describe_machine(live)
        for name in chosen:
            starting(name)
            suite, _ = SUITES[name]
            results[name] = suite(live, options)
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    figures = {name: results[name] for name in chosen}
    print(_table(figures), file=sys.stderr)
    if args.plot:
        from bench.load_plot import write_plot

        drawn = write_plot(figures, Path(args.plot))
        print(f"{args.plot}: {drawn} HTTP loads, second by second", file=sys.stderr)
    return 0


def _rows(prefix: str, figures: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for metric, value in figures.items():
        if isinstance(value, dict):
            yield from _rows(f"{prefix}{metric}.", value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            yield f"{prefix}{metric}", f"{len(value)} rows (in the JSON)"
        else:
            yield f"{prefix}{metric}", value


def _table(results: dict[str, Any]) -> str:
    """One line a figure, nested figures named by their path: `projection.replay.seconds`."""
    rows = list(_rows("", results))
    width = max((len(name) for name, _ in rows), default=10)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
