"""WebSocket fan-out benchmark: one API process (uvicorn in a subprocess) and many clients on it.

Measures messages delivered per second, delivery latency (append → receipt, timed by the clients as
the bytes arrive), server CPU per message and memory per idle connection. The clients are bare
asyncio protocols in processes of their own (`bench.websocket_clients`), so the figures are
the server's, not a client library's. `oee bench websocket [--clients N]`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
import uuid
from array import array
from asyncio.subprocess import Process
from decimal import Decimal
from typing import Any

from bench.percentile import percentile
from bench.process_readings import cpu_seconds, free_port, rss_kib
from bench.scope import child_env
from eventlog.append import AppendRequest, EventAppender
from eventlog.connections import redis_client
from eventlog.settings import Settings
from schema.events import Event, OrderPlaced, new_event

_STREAM = "/api/orders/stream/all"
CLIENTS = 1_000
CLIENT_PROCESSES = 1  # more only pays on more cores: each process adds CPU per message


class _ClientProcess:
    """One process of benchmark clients, driven through lines of JSON on its stdin and stdout."""

    def __init__(self, process: Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, port: int, count: int, deflate: bool) -> _ClientProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.websocket_clients",
            str(port),
            str(count),
            "1" if deflate else "0",
            _STREAM,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**27,  # one reply carries every latency the process recorded
        )
        clients = cls(process)
        await clients.reply(within=120)
        return clients

    async def ask(self, command: dict[str, Any], within: float = 30) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.reply(within)

    async def reply(self, within: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), within)
        if not line:
            raise RuntimeError(f"benchmark clients exited with {await self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def _wait_for_port(port: int, server: Process, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while True:
        if server.returncode is not None:
            raise RuntimeError(f"the API server exited with {server.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)  # deliberate: polling for the server to listen
        else:
            writer.close()
            return


async def _connect(port: int, count: int, processes: int, deflate: bool) -> list[_ClientProcess]:
    """`count` clients, spread evenly over `processes` processes."""
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    started = await asyncio.gather(
        *(_ClientProcess.start(port, share, deflate) for share in shares if share),
        return_exceptions=True,
    )
    groups = [g for g in started if isinstance(g, _ClientProcess)]
    failed = [e for e in started if isinstance(e, BaseException)]
    if failed:
        await asyncio.gather(*(g.stop() for g in groups))
        raise failed[0]
    return groups


def _placed() -> Event[OrderPlaced]:
    return new_event(
        OrderPlaced(
            order_type="market",
            token_in="SOL",
            token_out="USDC",
            amount_in=Decimal(1),
            slippage=Decimal("0.01"),
        ),
        order_id=uuid.uuid4(),
        sequence=1,
    )


async def _phase(
    appender: EventAppender,
    groups: list[_ClientProcess],
    clients: int,
    pid: int,
    events: int,
    rate: float | None,
) -> dict[str, Any]:
    """Append `events` OrderPlaced events (at `rate` per second, or all at once) and time them."""
    await asyncio.gather(*(g.ask({"do": "start", "events": events}) for g in groups))
    cpu = cpu_seconds(pid)
    started = time.time()
    if rate is None:
        batch = [AppendRequest([_placed()], expected_sequence=0) for _ in range(events)]
        await appender.append_many(batch)
    else:
        for index in range(events):
            await appender.append([_placed()], expected_sequence=0)
            pause = started + (index + 1) / rate - time.time()
            if pause > 0:
                await asyncio.sleep(pause)  # deliberate: pacing the appends
    collect = {"do": "collect", "within": 120}
    replies = await asyncio.gather(*(g.ask(collect, within=150) for g in groups))
    server_cpu = cpu_seconds(pid) - cpu
    missing = sum(r["missing"] for r in replies)
    if missing:
        raise RuntimeError(f"{missing} messages not delivered within 120 s")
    latencies: array[float] = array("d")
    for reply in replies:
        latencies.frombytes(base64.b64decode(reply["latencies"]))
    finished = max(r["last_at"] for r in replies)
    messages = events * clients
    return {
        "events": events,
        "events_per_s_offered": rate if rate is not None else "burst",
        "messages": messages,
        "seconds": round(finished - started, 3),
        "messages_per_s": round(messages / (finished - started)),
        "latency_ms_p50": round(percentile(latencies, 0.50) * 1000, 2),
        "latency_ms_p99": round(percentile(latencies, 0.99) * 1000, 2),
        "latency_ms_max": round(max(latencies) * 1000, 2),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_us_per_message": round(server_cpu / messages * 1e6, 1),
        "client_cpu_s": round(sum(r["cpu_s"] for r in replies), 2),
    }


async def bench_websocket(
    settings: Settings,
    clients: int = CLIENTS,
    events: int = 300,
    rate: float = 20.0,
    burst: int = 300,
    deflate: bool = False,
    client_processes: int = CLIENT_PROCESSES,
) -> dict[str, Any]:
    """Figures for `clients` sockets on /api/orders/stream/all of one API process."""
    port = free_port()
    streams = {  # every client is one address here
        "ws_max_streams": max(clients, settings.ws_max_streams),
        "ws_max_streams_per_client": max(clients, settings.ws_max_streams_per_client),
    }
    run = settings.model_copy(
        update={"key_prefix": f"bench{uuid.uuid4().hex[:8]}", "port": port, **streams}
    )
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.websocket_server",
        *(["--deflate"] if deflate else []),
        env=child_env(run.to_environ()),
    )
    redis = redis_client(run)
    keys = run.log_keys()
    groups: list[_ClientProcess] = []
    try:
        await _wait_for_port(port, server)
        for warm in await _connect(port, 20, 1, deflate):
            await warm.stop()
        rss_before = rss_kib(server.pid)
        groups = await _connect(port, clients, client_processes, deflate)
        rss_after = rss_kib(server.pid)
        appender = EventAppender(redis, keys)
        paced = await _phase(appender, groups, clients, server.pid, events, rate)
        bursted = await _phase(appender, groups, clients, server.pid, burst, None)
    finally:
        await asyncio.gather(*(g.stop() for g in groups))
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
        async for key in redis.scan_iter(match=keys.all(), count=1000):
            await redis.unlink(key)
        await redis.aclose()
    return {
        "clients": clients,
        "client_processes": len(groups),
        "per_message_deflate": deflate,
        "server_rss_kib_before": rss_before,
        "server_rss_kib_with_idle_clients": rss_after,
        "kib_per_idle_connection": round((rss_after - rss_before) / clients, 1),
        "paced": paced,
        "burst": bursted,
    }


def run_websocket_bench(settings: Settings, clients: int = CLIENTS) -> dict[str, Any]:
    """The `oee bench websocket` suite: the figures without and with compression."""
    import uvloop

    return {
        "without_deflate": uvloop.run(bench_websocket(settings, clients)),
        "with_deflate": uvloop.run(bench_websocket(settings, clients, deflate=True)),
    }
