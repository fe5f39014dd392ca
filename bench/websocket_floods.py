"""WebSocket floods against one `oee api` process: what `/health` answers and how much memory the
API holds while one address opens thousands of streams, and while hundreds of sockets catch up
from the start of the log at once.

    python -m bench.websocket_floods [--sockets 10000] [--catch-up 300] [--orders 100] [--json]
                                     [--api-source DIR]

`--api-source` runs the API from another checkout (for a before/after comparison in one run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.api_process import wait_healthy
from bench.health_probe import HealthProbe
from bench.process_readings import rss_kib
from bench.sample_histories import append_histories, build_histories
from bench.scope import HOST, BenchScope, bench_scope
from eventlog.append import EventAppender
from eventlog.connections import redis_client
from eventlog.settings import Settings

HANDSHAKES_AT_ONCE = 200
HOLD_SECONDS = 3.0


@contextlib.contextmanager
def api(scope: BenchScope, source: Path | None, **settings: str) -> Iterator[int]:
    """`oee api` in the scope (from `source` if given) with extra settings; yields its pid."""
    env = {**scope.env, **settings}
    if source is not None:
        env = {**env, "PYTHONPATH": str(source)}
    process = subprocess.Popen(
        [sys.executable, "-m", "oee", "api"], env=env, cwd=source or None, stderr=subprocess.DEVNULL
    )
    try:
        wait_healthy(scope.settings.port)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _open(url: str, gate: asyncio.Semaphore) -> tuple[str, ClientConnection | None]:
    """Open one stream; what its first message was ("connected", an error code, or "failed")."""
    async with gate:
        try:
            ws = await connect(url, open_timeout=60, compression=None)
        except (OSError, InvalidHandshake, TimeoutError):
            return "failed", None
        try:
            first = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
        except (ConnectionClosed, TimeoutError):
            await ws.close()
            return "failed", None
    if first["type"] == "connected":
        return "connected", ws
    await ws.close()
    return str(first.get("code")), None


async def stream_flood(base_url: str, ws_url: str, pid: int, sockets: int) -> dict[str, Any]:
    """`sockets` streams from one address, all held open while `/health` is probed."""
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    with HealthProbe().running(base_url) as probe:
        started = time.perf_counter()
        opened = await asyncio.gather(
            *(_open(f"{ws_url}/api/orders/stream/all", gate) for _ in range(sockets))
        )
        seconds = time.perf_counter() - started
        await asyncio.sleep(HOLD_SECONDS)  # deliberate: probe while they are all held open
        rss = rss_kib(pid)
    outcomes: dict[str, int] = {}
    for outcome, ws in opened:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if ws is not None:
            await ws.close()
    return {
        "sockets": sockets,
        "outcomes": outcomes,
        "seconds": round(seconds, 2),
        "apiRssMiB": round(rss / 1024, 1),
        "health": probe.figures,
    }


async def catch_up_flood(
    base_url: str, ws_url: str, pid: int, sockets: int, events: int
) -> dict[str, Any]:
    """`sockets` streams resuming from the start of a log of `events` events, all at once."""
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)

    async def catch_up() -> int:
        async with gate:
            ws = await connect(f"{ws_url}/api/orders/stream/all?after=0-0", open_timeout=60)
        received = 0
        async with ws:
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                while received < events:
                    message = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
                    received += message["type"] == "status_update" or message["type"] == "retry"
        return received

    peak = 0
    with HealthProbe().running(base_url) as probe:
        started = time.perf_counter()
        sockets_done = asyncio.gather(*(catch_up() for _ in range(sockets)))
        while not sockets_done.done():
            peak = max(peak, rss_kib(pid))
            await asyncio.wait([sockets_done], timeout=0.2)
        received = sockets_done.result()
        seconds = time.perf_counter() - started
    return {
        "sockets": sockets,
        "eventsEach": events,
        "complete": sum(count == events for count in received),
        "seconds": round(seconds, 2),
        "messagesPerSecond": round(sum(received) / seconds),
        "apiPeakRssMiB": round(peak / 1024, 1),
        "health": probe.figures,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Settings.from_env()
    with bench_scope(base) as scope:
        settings = scope.settings
        redis = redis_client(settings)
        await append_histories(
            EventAppender(redis, settings.log_keys()), build_histories(args.orders, seed=7)
        )
        events = int(await redis.xlen(settings.log_keys().events))
        await redis.aclose()
        base_url, ws_url = f"http://{HOST}:{settings.port}", f"ws://{HOST}:{settings.port}"
        report: dict[str, Any] = {"apiSource": str(args.api_source or "this checkout")}
        with api(scope, args.api_source) as pid:
            with HealthProbe().running(base_url) as probe:
                await asyncio.sleep(2)  # deliberate: a quiet baseline of probes
            report["quiet"] = {"apiRssMiB": round(rss_kib(pid) / 1024, 1), **probe.figures}
            report["streamFlood"] = await stream_flood(base_url, ws_url, pid, args.sockets)
        # All sockets come from this one address: lift the per-client bound to see the pacing.
        lifted = {"OEE_WS_MAX_STREAMS_PER_CLIENT": str(args.catch_up)}
        with api(scope, args.api_source, **lifted) as pid:
            report["catchUpFlood"] = await catch_up_flood(
                base_url, ws_url, pid, args.catch_up, events
            )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.websocket_floods", description=__doc__)
    parser.add_argument("--sockets", type=int, default=10_000, help="streams from one address")
    parser.add_argument("--catch-up", type=int, default=300, help="sockets resuming from 0-0")
    parser.add_argument(
        "--orders", type=int, default=100, help="orders in the log (~7 events each)"
    )
    parser.add_argument("--api-source", type=Path, help="run the API from this checkout")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    report = asyncio.run(run(args))
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        for name, figures in report.items():
            print(f"{name}: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
