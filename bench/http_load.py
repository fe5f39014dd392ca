"""A small HTTP/1.1 load generator over keep-alive connections, for the API benchmarks.

Closed loop (each connection sends as soon as its last answer arrived) measures saturation; open
loop (requests scheduled at a fixed rate, latency counted from the scheduled time, so queueing is
not hidden) measures latency at an offered load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvloop

from eventlog.gc_tuning import fewer_collections

T = TypeVar("T")


@dataclass
class LoadResult:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    # When each answer arrived, in seconds from the load's start (parallel to `latencies_ms`).
    answered_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def per_second(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0


RequestFactory = Callable[[int], bytes]


def run_load(load: Coroutine[Any, Any, T]) -> T:
    """Run a load on uvloop: the generator shares the machine's cores with the server it
    measures, so the less CPU it takes, the more the figures are the server's. Its own full
    garbage collections (over every pending request and latency kept) paused it for 40-60 ms,
    which showed up as the server's p99: it collects far less often while it runs."""
    with fewer_collections():
        return uvloop.run(load)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def post_json(host: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def get(host: str, path: str, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


async def closed_loop(
    host: str, port: int, make: RequestFactory, *, connections: int, seconds: float
) -> LoadResult:
    result = LoadResult()
    opened = [await Connection.open(host, port) for _ in range(connections)]
    started = time.perf_counter()
    deadline = started + seconds
    counter = iter(range(10**12))

    async def run(conn: Connection) -> None:
        while time.perf_counter() < deadline:
            sent_at = time.perf_counter()
            status, _ = await conn.exchange(make(next(counter)))
            answered = time.perf_counter()
            result.latencies_ms.append((answered - sent_at) * 1000)
            result.answered_s.append(answered - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.sent += 1

    await asyncio.gather(*(run(c) for c in opened))
    result.elapsed_s = time.perf_counter() - started
    for conn in opened:
        conn.close()
    return result


async def open_loop(
    host: str,
    port: int,
    make: RequestFactory,
    *,
    rate: float,
    seconds: float,
    connections: int = 64,
) -> LoadResult:
    """Send `rate` requests per second for `seconds`; latency is measured from each request's
    scheduled send time, so a server that falls behind shows it in the percentiles."""
    result = LoadResult()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(host, port))
    total = int(rate * seconds)
    started = time.perf_counter()
    tasks = []

    async def one(n: int, scheduled: float) -> None:
        conn = await idle.get()
        status, _ = await conn.exchange(make(n))
        answered = time.perf_counter()
        result.latencies_ms.append((answered - scheduled) * 1000)
        result.answered_s.append(answered - started)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        result.sent += 1
        idle.put_nowait(conn)

    for n in range(total):
        scheduled = started + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - started
    while not idle.empty():
        idle.get_nowait().close()
    return result
