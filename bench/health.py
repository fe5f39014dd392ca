"""The health benchmark: GET /health at saturation (64 connections, one `oee api` process) on a
fresh log and again with a backlog of --orders orders no processor has taken, against the
machine's ceiling measured in the same run (a bare Starlette GET of a fixed body,
`bench.ceiling_app`) under the same load generator. Figures: requests/s, p50/p99, each as a
fraction of the ceiling, and backlog against fresh."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bench.api_process import part_process, wait_healthy
from bench.ceiling_server import ceiling_server
from bench.execution import placement
from bench.http_load import LoadResult, closed_loop, get, run_load
from bench.load_timeline import timeline
from bench.percentile import percentile
from bench.scope import HOST, bench_scope
from eventlog.append import EventAppender
from eventlog.connections import redis_client
from eventlog.keys import EXECUTION_GROUP
from eventlog.settings import Settings

CONNECTIONS = 64


def _figures(result: LoadResult, ceiling: float | None = None) -> dict[str, Any]:
    per_second = result.statuses.get(200, 0) / result.elapsed_s
    figures: dict[str, Any] = {
        "per_s": round(per_second),
        "p50_ms": round(percentile(result.latencies_ms, 0.50), 2),
        "p99_ms": round(percentile(result.latencies_ms, 0.99), 2),
        "not_200": sum(v for k, v in result.statuses.items() if k != 200),
    }
    if ceiling:
        figures["of_ceiling"] = round(per_second / ceiling, 2)
    figures["timeline"] = timeline(result)
    return figures


def _load(port: int, path: str, seconds: float) -> LoadResult:
    request = get(HOST, path)
    return run_load(
        closed_loop(HOST, port, lambda n: request, connections=CONNECTIONS, seconds=seconds)
    )


async def _backlog(settings: Settings, orders: int) -> None:
    """`orders` placements in the log, behind the execution and projection groups."""
    redis = redis_client(settings)
    keys = settings.log_keys()
    try:
        appender = EventAppender(redis, keys)
        for start in range(0, orders, 2_000):
            await appender.append_many([placement(n) for n in range(start, start + 2_000)])
        for group in (EXECUTION_GROUP, "projection:orders"):
            with contextlib.suppress(Exception):  # a group that exists already
                await redis.xgroup_create(keys.events, group, id="0")
    finally:
        await redis.aclose()


def bench_health(settings: Settings, seconds: float, orders: int) -> dict[str, Any]:
    with ceiling_server() as ceiling_port:
        ceiling = _figures(_load(ceiling_port, "/fixed", seconds))
    figures: dict[str, Any] = {"connections": CONNECTIONS, "ceiling_fixed_get": ceiling}
    with bench_scope(settings) as scope, part_process("api", scope):
        port = scope.settings.port
        wait_healthy(port)
        figures["fresh"] = _figures(_load(port, "/health", seconds), ceiling["per_s"])
        asyncio.run(_backlog(scope.settings, orders))
        figures["backlog_orders"] = orders
        figures["with_backlog"] = _figures(_load(port, "/health", seconds), ceiling["per_s"])
    figures["backlog_over_fresh"] = round(
        figures["with_backlog"]["per_s"] / figures["fresh"]["per_s"], 2
    )
    return figures
