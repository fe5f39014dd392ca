"""End to end: one `oee api`, one `oee process` and one `oee project`, each its own process on the
machine's cores (venues without latency or failures, the execution limits lifted), placements
offered at --rate per second for --seconds by an open loop over keep-alive connections.

Every order is followed on the global WebSocket stream until `confirmed`; every tenth, once
confirmed there, is read with `GET /api/orders/{id}` until the answer says `confirmed` (the
moment a client polling it would know). Reported: orders accepted and confirmed per second,
how many were still unconfirmed when the offer ended (a backlog that grows means the rate is not
sustained), accept → confirmed on the WebSocket and accept → confirmed and visible through GET
(p50/p99/max, from each 202), and per process its CPU seconds and peak RSS, Redis's and
PostgreSQL's CPU seconds included, so it shows where the CPU went.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import psutil
from websockets.asyncio.client import connect

from bench.api_process import part_process, wait_healthy
from bench.http_load import Connection, LoadResult, get, post_json, run_load
from bench.load_timeline import timeline
from bench.percentile import percentile
from bench.process_readings import cpu_seconds, peak_rss_kib
from bench.redis_servers import load_between, server_load
from bench.scope import HOST, bench_scope, execution_run
from eventlog.settings import Settings

ORDER = orjson.dumps(
    {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": 0.01}
)
CONNECTIONS = 64
VISIBLE_EVERY = 10  # every tenth order is also read until a GET shows it confirmed
DRAIN_S = 30.0  # how long after the offer ends confirmations are still awaited


@dataclass
class _Run:
    accepted: dict[str, float] = field(default_factory=dict)  # order id → when its 202 came
    confirmed: dict[str, float] = field(default_factory=dict)  # … → when the stream said so
    visible: dict[str, float] = field(default_factory=dict)  # … → when a GET said so
    refused: dict[int, int] = field(default_factory=dict)
    offer_ended: float = 0.0
    backlog_at_end: int = 0
    sampled: dict[str, asyncio.Event] = field(default_factory=dict)  # orders to read with GET
    all_confirmed: asyncio.Event = field(default_factory=asyncio.Event)  # once the offer ended

    def note_confirmed(self, order_id: str) -> None:
        self.confirmed.setdefault(order_id, time.perf_counter())
        waiting = self.sampled.get(order_id)
        if waiting is not None:
            waiting.set()
        if self.offer_ended and len(self.confirmed) >= len(self.accepted):
            self.all_confirmed.set()


async def _follow(ws_url: str, run: _Run, ready: asyncio.Event) -> None:
    async with connect(ws_url, compression=None, max_queue=None) as ws:
        ready.set()
        async for raw in ws:
            message = orjson.loads(raw)
            if message.get("status") == "confirmed":
                run.note_confirmed(message["orderId"])


async def _read_until_visible(port: int, order_id: str, run: _Run) -> None:
    request = get(HOST, f"/api/orders/{order_id}")
    conn = await Connection.open(HOST, port)
    try:
        while True:
            _, body = await conn.exchange(request)
            if b'"status":"confirmed"' in body:
                run.visible[order_id] = time.perf_counter()
                return
            await asyncio.sleep(0.002)  # polling as a client would, every 2 ms
    finally:
        conn.close()


async def _offer(port: int, rate: float, seconds: float, run: _Run) -> None:
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        idle.put_nowait(await Connection.open(HOST, port))
    request = post_json(HOST, "/api/orders/execute", ORDER)
    readers: list[asyncio.Task[None]] = []
    placing: list[asyncio.Task[None]] = []

    async def place(n: int) -> None:
        conn = await idle.get()
        status, body = await conn.exchange(request)
        idle.put_nowait(conn)
        if status != 202:
            run.refused[status] = run.refused.get(status, 0) + 1
            return
        order_id = orjson.loads(body)["orderId"]
        run.accepted[order_id] = time.perf_counter()
        if n % VISIBLE_EVERY == 0:
            run.sampled[order_id] = asyncio.Event()
            if order_id in run.confirmed:  # the stream was quicker than the 202
                run.sampled[order_id].set()
            readers.append(asyncio.create_task(_wait_then_read(port, order_id, run)))

    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        placing.append(asyncio.create_task(place(n)))
    await asyncio.gather(*placing)
    run.offer_ended = time.perf_counter()
    run.backlog_at_end = len(run.accepted) - len(run.confirmed)
    if len(run.confirmed) >= len(run.accepted):
        run.all_confirmed.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.all_confirmed.wait(), DRAIN_S)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*readers), 5)
    while not idle.empty():
        idle.get_nowait().close()


async def _wait_then_read(port: int, order_id: str, run: _Run) -> None:
    await run.sampled[order_id].wait()  # the stream's word first, then the GET
    await _read_until_visible(port, order_id, run)


async def _drive(port: int, rate: float, seconds: float) -> _Run:
    run = _Run()
    ready = asyncio.Event()
    follower = asyncio.create_task(_follow(f"ws://{HOST}:{port}/api/orders/stream/all", run, ready))
    await asyncio.wait_for(ready.wait(), 10)
    try:
        await _offer(port, rate, seconds, run)
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    return run


def _confirmations(run: _Run) -> list[dict[str, Any]]:
    """Confirmations second by second from the first acceptance: orders confirmed per second
    and the accept → confirmed p50/p99 of those confirmed in that second."""
    first = min(run.accepted.values(), default=0.0)
    course = LoadResult()
    for order_id, confirmed in sorted(run.confirmed.items(), key=lambda item: item[1]):
        accepted = run.accepted.get(order_id)
        if accepted is not None:
            course.answered_s.append(confirmed - first)
            course.latencies_ms.append((confirmed - accepted) * 1000)
    course.elapsed_s = course.answered_s[-1] if course.answered_s else 0.0
    return timeline(course)


def _latencies(run: _Run, ends: dict[str, float]) -> dict[str, float | int]:
    spans = [(ends[o] - t) * 1000 for o, t in run.accepted.items() if o in ends]
    if not spans:
        return {"count": 0}
    return {
        "count": len(spans),
        "p50_ms": round(percentile(spans, 0.50), 1),
        "p99_ms": round(percentile(spans, 0.99), 1),
        "max_ms": round(max(spans), 1),
    }


@contextlib.contextmanager
def _servers_cpu(settings: Settings) -> Iterator[dict[str, Any]]:
    """CPU seconds Redis (every master, on a cluster) and PostgreSQL used while the block ran,
    and each Redis server's share: its CPU seconds and the commands it ran."""
    before = server_load(settings), _postgres_cpu()
    spent: dict[str, Any] = {}
    try:
        yield spent
    finally:
        per_server = load_between(before[0], server_load(settings))
        spent["redis"] = round(sum(load["cpu_s"] for load in per_server.values()), 1)
        spent["postgres"] = round(_postgres_cpu() - before[1], 1)
        spent["redis_servers"] = per_server


def _postgres_cpu() -> float:
    """Every PostgreSQL process's CPU seconds on this machine (backends come and go: the pools'
    connections live through a run, so their share is counted)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if (process.info["name"] or "").startswith("postgres") and process.info["cpu_times"]:
            total += process.info["cpu_times"].user + process.info["cpu_times"].system
    return total


def bench_end_to_end(settings: Settings, rate: float, seconds: float) -> dict[str, Any]:
    run_settings = execution_run(settings)
    with (
        bench_scope(run_settings) as scope,
        part_process("api", scope) as api,
        part_process("process", scope) as processor,
        part_process("project", scope) as projector,
    ):
        wait_healthy(scope.settings.port)
        parts = {"api": api.pid, "processor": processor.pid, "projector": projector.pid}
        cpu_before = {name: cpu_seconds(pid) for name, pid in parts.items()}
        with _servers_cpu(scope.settings) as servers:
            run = run_load(_drive(scope.settings.port, rate, seconds))
        cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 1) for name, pid in parts.items()}
        peak = {name: round(peak_rss_kib(pid) / 1024, 1) for name, pid in parts.items()}
    first = min(run.accepted.values(), default=run.offer_ended)
    offered_s = run.offer_ended - first
    during = sum(1 for t in run.confirmed.values() if t <= run.offer_ended)
    last = max(run.confirmed.values(), default=run.offer_ended)
    return {
        "offered_per_s": rate,
        "seconds": seconds,
        "accepted": len(run.accepted),
        "refused": {str(k): v for k, v in run.refused.items()},
        "accepted_per_s": round(len(run.accepted) / offered_s) if offered_s else 0,
        "confirmed": len(run.confirmed),
        "confirmed_per_s_while_offered": round(during / offered_s) if offered_s else 0,
        "unconfirmed_when_offer_ended": run.backlog_at_end,
        "drained_s_after_offer": round(max(0.0, last - run.offer_ended), 2),
        "accept_to_confirmed_ws": _latencies(run, run.confirmed),
        "accept_to_visible_get": _latencies(run, run.visible),
        "confirmed_timeline": _confirmations(run),
        "cpu_seconds": {**cpu, "redis": servers["redis"], "postgres": servers["postgres"]},
        "redis_servers": servers["redis_servers"],
        "peak_rss_mb": peak,
    }
