"""Slow-headers flood: one `oee api` process while N sockets each send part of a request's head
and then nothing. Its memory (RSS) and `/health` latency before and during the flood, and how
long the header timeout takes to disconnect every flooding socket. `python -m bench.floods
[--sockets N] [--header-timeout S]` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx

from bench.api_process import part_process, wait_healthy
from bench.percentile import percentile
from bench.process_readings import rss_kib
from bench.scope import HOST, bench_scope
from eventlog.settings import Settings

SOCKETS = 2_000
PROBES = 200
PARTIAL_HEAD = b"GET /health HTTP/1.1\r\nHost: flood\r\n"


async def health_latencies_ms(port: int, probes: int = PROBES) -> list[float]:
    """`probes` sequential GET /health on one kept-alive connection; each must answer 200."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=10) as http:
        for _ in range(probes):
            started = time.perf_counter()
            answer = await http.get("/health")
            latencies.append((time.perf_counter() - started) * 1_000)
            if answer.status_code != 200:
                raise RuntimeError(f"/health answered {answer.status_code} during the flood")
    return latencies


def _latency_figures(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


async def _flood(port: int, pid: int, sockets: int, timeout_s: float) -> dict[str, Any]:
    idle_rss = rss_kib(pid)
    before = await health_latencies_ms(port)
    started = time.monotonic()
    flood = [await asyncio.open_connection(HOST, port) for _ in range(sockets)]
    for _, writer in flood:
        writer.write(PARTIAL_HEAD)
    await asyncio.gather(*(writer.drain() for _, writer in flood))
    during = await health_latencies_ms(port)
    flood_rss = rss_kib(pid)
    if time.monotonic() - started >= timeout_s:
        raise RuntimeError("the flood timed out before it was measured: raise --header-timeout")
    answers = await asyncio.gather(*(reader.read() for reader, _ in flood))  # until each closes
    cleared_s = time.monotonic() - started
    for _, writer in flood:
        writer.close()
    timed_out = sum(answer.startswith(b"HTTP/1.1 408") for answer in answers)
    after = await health_latencies_ms(port)
    return {
        "sockets": sockets,
        "rss_idle_kib": idle_rss,
        "rss_during_flood_kib": flood_rss,
        "rss_per_flood_socket_kib": round((flood_rss - idle_rss) / sockets, 2),
        "health_before": _latency_figures(before),
        "health_during_flood": _latency_figures(during),
        "health_after": _latency_figures(after),
        "answered_408": timed_out,
        "flood_cleared_s": round(cleared_s, 2),
        "rss_after_kib": rss_kib(pid),
    }


def bench_floods(base: Settings, sockets: int = SOCKETS) -> dict[str, Any]:
    with bench_scope(base) as scope, part_process("api", scope) as api:
        wait_healthy(scope.settings.port)
        timeout_s = scope.settings.api_header_timeout_seconds
        return asyncio.run(_flood(scope.settings.port, api.pid, sockets, timeout_s))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floods", description=__doc__)
    parser.add_argument("--sockets", type=int, default=SOCKETS, help="flooding sockets")
    parser.add_argument(
        "--header-timeout", type=float, default=None, help="the API's header timeout, seconds"
    )
    args = parser.parse_args()
    overrides = (
        {} if args.header_timeout is None else {"api_header_timeout_seconds": args.header_timeout}
    )
    base = Settings.from_env(**overrides)
    print(json.dumps(bench_floods(base, args.sockets), indent=1))


if __name__ == "__main__":
    main()
