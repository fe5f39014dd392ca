"""Query benchmark: `GET /api/orders/{id}` against one API process (uvicorn in a subprocess).

Measures requests/s at saturation (closed loop, many keep-alive connections) and latency p50/p99
at a fixed offered rate (open loop: latency counts from when a request was due, so a slow server
cannot hide queueing). The client is bare asyncio streams, so the figures are the server's.
Run: `python -m api.query_bench [orders]` (REDIS_URL and DATABASE_URL set).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from eventlog.append import EventAppender
from eventlog.connections import redis_client
from eventlog.keys import Keys
from eventlog.settings import Settings
from projections.run import drain_projections
from projections.sample_histories import append_histories, build_histories
from schema.migrate import migrate

_SERVER = """
import os
from api.app import create_app
from api.serving import serve
from eventlog.settings import Settings
settings = Settings.model_validate_json(os.environ["OEE_BENCH_SETTINGS"])
serve(create_app(settings), settings, host="127.0.0.1", log_level="warning", backlog=4096)
"""
_SOURCE_ROOT = str(Path(__file__).resolve().parents[1])


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str) -> int:
        self._writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        self._writer.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _seed(settings: Settings, orders: int) -> list[str]:
    history = build_histories(orders, seed=31)
    redis = redis_client(settings)
    try:
        await append_histories(EventAppender(redis, Keys(settings.key_prefix)), history)
    finally:
        await redis.aclose()
    await drain_projections(settings)
    return sorted({str(e.order_id) for e in history})


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _saturate(
    port: int, ids: list[str], connections: int, seconds: float, server_pid: int
) -> dict[str, Any]:
    pool = [await _Connection.open(port) for _ in range(connections)]
    done = 0
    errors = 0
    deadline = time.monotonic() + seconds

    async def run(connection: _Connection) -> None:
        nonlocal done, errors
        rng = random.Random()
        while time.monotonic() < deadline:
            status = await connection.get(f"/api/orders/{rng.choice(ids)}")
            done += 1
            errors += status != 200

    started = time.monotonic()
    cpu_before = _cpu_seconds(server_pid)
    await asyncio.gather(*(run(c) for c in pool))
    elapsed = time.monotonic() - started
    cpu = _cpu_seconds(server_pid) - cpu_before
    for connection in pool:
        connection.close()
    return {
        "connections": connections,
        "requests": done,
        "errors": errors,
        "requestsPerSecond": round(done / elapsed),
        # What one core of the API process serves: the client shares this machine's two cores.
        "serverCpuMsPerRequest": round(cpu * 1000 / done, 3),
        "requestsPerServerCpuSecond": round(done / cpu) if cpu else None,
    }


async def _offered(port: int, ids: list[str], rate: int, seconds: float) -> dict[str, Any]:
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(64):
        idle.put_nowait(await _Connection.open(port))
    latencies: list[float] = []
    errors = 0
    rng = random.Random(5)

    async def one(due: float) -> None:
        nonlocal errors
        connection = await idle.get()
        try:
            status = await connection.get(f"/api/orders/{rng.choice(ids)}")
        finally:
            idle.put_nowait(connection)
        latencies.append(time.monotonic() - due)
        errors += status != 200

    started = time.monotonic()
    tasks = []
    for index in range(int(rate * seconds)):
        due = started + index / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))  # deliberate: the offered rate
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    latencies.sort()
    return {
        "offeredPerSecond": rate,
        "requests": len(latencies),
        "errors": errors,
        "p50Ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99Ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


async def bench(base: Settings, orders: int) -> dict[str, Any]:
    tag = f"qbench{uuid.uuid4().hex[:8]}"
    base_url = base.require_database_url()
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{tag}"')
    url = make_conninfo(base_url, options=f"-c search_path={tag}")
    migrate(url)
    settings = base.model_copy(
        update={"database_url": url, "key_prefix": tag, "port": _free_port()}
    )
    server = None
    try:
        ids = await _seed(settings, orders)
        env = {
            **os.environ,
            "OEE_BENCH_SETTINGS": settings.model_dump_json(),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")])
            ),
        }
        server = await asyncio.create_subprocess_exec(sys.executable, "-c", _SERVER, env=env)
        for _ in range(200):
            try:
                probe = await _Connection.open(settings.port)
                break
            except OSError:
                await asyncio.sleep(0.05)  # deliberate: waiting for the server to listen
        else:
            raise RuntimeError("the API did not start")
        await probe.get(f"/api/orders/{ids[0]}")
        probe.close()
        await _saturate(settings.port, ids, 16, 1.0, server.pid)  # warm up: statements, pool
        return {
            "orders": len(ids),
            "saturation": await _saturate(settings.port, ids, 32, 5.0, server.pid),
            "offered": await _offered(settings.port, ids, 1_000, 5.0),
        }
    finally:
        if server is not None and server.returncode is None:
            server.terminate()
            await server.wait()
        redis = redis_client(settings)
        async for key in redis.scan_iter(match=f"{tag}:*", count=1_000):
            await redis.unlink(key)
        await redis.aclose()
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{tag}" CASCADE')


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    print(json.dumps(asyncio.run(bench(Settings.from_env(), orders)), indent=2))


if __name__ == "__main__":
    main()
