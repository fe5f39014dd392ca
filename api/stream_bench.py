"""WebSocket fan-out benchmark: one API process (uvicorn in a subprocess) and many clients on it.

Measures messages delivered per second, delivery latency (append → receipt) and memory per idle
connection. The clients are bare asyncio protocols, so the figures are the server's, not a client
library's. Run: `python -m api.stream_bench` (REDIS_URL and DATABASE_URL set).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import time
import uuid
import zlib
from array import array
from asyncio.subprocess import Process
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from eventlog.append import AppendRequest, EventAppender
from eventlog.connections import redis_client
from eventlog.keys import Keys
from eventlog.settings import Settings
from schema.events import Event, OrderPlaced, new_event

_SERVER = """
import os
from api.app import create_app
from api.serving import serve
from eventlog.settings import Settings
settings = Settings.model_validate_json(os.environ["OEE_BENCH_SETTINGS"])
serve(create_app(settings), settings, host="127.0.0.1", log_level="warning", backlog=4096,
      ws_per_message_deflate=os.environ["OEE_BENCH_DEFLATE"] == "1")
"""
_EVENT_PREFIX = b'{"type":"status_update"'
_TIMESTAMP = b'"timestamp":"'


class _Client(asyncio.Protocol):
    """Counts the status updates it receives and records each one's latency.

    With `deflate` it offers permessage-deflate, as browsers and the `websockets` client do.
    """

    def __init__(self, latencies: array[float], path: str, deflate: bool) -> None:
        self.latencies = latencies
        self.path = path
        self.deflate = deflate
        self.inflater = zlib.decompressobj(-15)
        self.connected = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.handshaken = False
        self.events = 0
        self.last_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            + ("Sec-WebSocket-Extensions: permessage-deflate\r\n" if self.deflate else "")
            + "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        transport.write(request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.handshaken:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            self.handshaken = True
            buffer = buffer[end + 4 :]
        at, size = 0, len(buffer)
        while size - at >= 2:
            length, start = buffer[at + 1] & 0x7F, at + 2
            if length == 126:
                length, start = int.from_bytes(buffer[at + 2 : at + 4], "big"), at + 4
            elif length == 127:
                length, start = int.from_bytes(buffer[at + 2 : at + 10], "big"), at + 10
            if size < start + length:
                break
            payload = buffer[start : start + length]
            if buffer[at] & 0x40:  # compressed (RSV1)
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            self._message(payload, now)
            at = start + length
        self.buffer = buffer[at:]

    def _message(self, payload: bytes, now: float) -> None:
        if not payload.startswith(_EVENT_PREFIX):
            if not self.connected.done() and payload.startswith(b'{"type":"connected"'):
                self.connected.set_result(None)
            return
        begin = payload.find(_TIMESTAMP) + len(_TIMESTAMP)
        occurred = datetime.fromisoformat(payload[begin : payload.find(b'"', begin)].decode())
        self.latencies.append(now - occurred.timestamp())
        self.events += 1
        self.last_at = now

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("closed before connected"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def _connect(port: int, count: int, latencies: array[float], deflate: bool) -> list[_Client]:
    loop = asyncio.get_running_loop()
    clients: list[_Client] = []
    for start in range(0, count, 100):

        async def one() -> _Client:
            _, protocol = await loop.create_connection(
                lambda: _Client(latencies, "/api/orders/stream/all", deflate), "127.0.0.1", port
            )
            await asyncio.wait_for(protocol.connected, 30)
            return protocol

        clients += await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    return clients


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


async def _delivered(clients: list[_Client], expected: int, within: float) -> None:
    deadline = time.monotonic() + within
    while any(c.events < expected for c in clients):
        if time.monotonic() > deadline:
            missing = sum(expected - c.events for c in clients if c.events < expected)
            raise RuntimeError(f"{missing} messages not delivered within {within} s")
        await asyncio.sleep(0.01)  # deliberate: polling the counters


def _percentile(values: array[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _phase(
    appender: EventAppender,
    clients: list[_Client],
    latencies: array[float],
    pid: int,
    events: int,
    rate: float | None,
) -> dict[str, Any]:
    """Append `events` OrderPlaced events (at `rate` per second, or all at once) and time them."""
    before = clients[0].events
    del latencies[:]
    cpu, own_cpu = _cpu_seconds(pid), time.process_time()
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
    await _delivered(clients, before + events, within=120)
    finished = max(c.last_at for c in clients)
    messages = events * len(clients)
    return {
        "events": events,
        "events_per_s_offered": rate if rate is not None else "burst",
        "messages": messages,
        "seconds": round(finished - started, 3),
        "messages_per_s": round(messages / (finished - started)),
        "latency_ms_p50": round(_percentile(latencies, 0.50) * 1000, 2),
        "latency_ms_p99": round(_percentile(latencies, 0.99) * 1000, 2),
        "latency_ms_max": round(max(latencies) * 1000, 2),
        "server_cpu_s": round(_cpu_seconds(pid) - cpu, 2),
        "client_cpu_s": round(time.process_time() - own_cpu, 2),
    }


async def bench_websocket(
    settings: Settings,
    clients: int = 1_000,
    events: int = 300,
    rate: float = 20.0,
    burst: int = 300,
    deflate: bool = False,
) -> dict[str, Any]:
    """Figures for `clients` sockets on /api/orders/stream/all of one API process."""
    port = _free_port()
    run = settings.model_copy(update={"key_prefix": f"bench{uuid.uuid4().hex[:8]}", "port": port})
    env = {
        **os.environ,
        "OEE_BENCH_SETTINGS": run.model_dump_json(),
        "OEE_BENCH_DEFLATE": "1" if deflate else "0",
    }
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", _SERVER, env=env)
    redis = redis_client(run)
    keys = Keys(run.key_prefix)
    latencies: array[float] = array("d")
    connected: list[_Client] = []
    try:
        await _wait_for_port(port, server)
        for warm in await _connect(port, 20, latencies, deflate):
            assert warm.transport is not None
            warm.transport.close()
        rss_before = _rss_kib(server.pid)
        connected = await _connect(port, clients, latencies, deflate)
        rss_after = _rss_kib(server.pid)
        appender = EventAppender(redis, keys)
        paced = await _phase(appender, connected, latencies, server.pid, events, rate)
        bursted = await _phase(appender, connected, latencies, server.pid, burst, None)
    finally:
        for client in connected:
            if client.transport is not None:
                client.transport.close()
        server.terminate()
        await asyncio.wait_for(server.wait(), 30)
        async for key in redis.scan_iter(match=keys.all(), count=1000):
            await redis.unlink(key)
        await redis.aclose()
    return {
        "clients": clients,
        "per_message_deflate": deflate,
        "server_rss_kib_before": rss_before,
        "server_rss_kib_with_idle_clients": rss_after,
        "kib_per_idle_connection": round((rss_after - rss_before) / clients, 1),
        "paced": paced,
        "burst": bursted,
    }


def run_websocket_bench(settings: Settings) -> dict[str, Any]:
    """`oee bench` entry point: the figures with the defaults, without and with compression."""
    import uvloop

    return {
        "without_deflate": uvloop.run(bench_websocket(settings)),
        "with_deflate": uvloop.run(bench_websocket(settings, deflate=True)),
    }


if __name__ == "__main__":
    print(json.dumps(run_websocket_bench(Settings.from_env(log_level="WARNING")), indent=2))
