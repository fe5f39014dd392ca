"""API benchmarks: orders accepted per second at saturation (64 connections, one API process),
accept latency at an offered 1,000 orders/s, and the same two figures for GET /api/orders/{id}.

Venue latency is 0 and limits are lifted; the API runs as its own process (`oee api`), and the
GET figures are taken once a projector has put the orders in the read table.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import psycopg
from psycopg.conninfo import make_conninfo

from eventlog.settings import Settings
from oee.bench.http_load import closed_loop, get, open_loop, post_json
from schema.migrate import migrate

HOST = "127.0.0.1"
SECONDS = 5.0
ORDER = orjson.dumps({"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _scoped_database(database_url: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        scoped = make_conninfo(database_url, options=f"-c search_path={schema}")
        migrate(scoped)
        yield scoped
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextlib.contextmanager
def _part(part: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "oee", part], env=env)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_healthy(port: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # deliberate: polling a starting server, with a deadline
    raise RuntimeError("the API did not become healthy")


def _projected(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM orders").fetchone()
    return int(row[0]) if row else 0


def _order_ids(database_url: str, limit: int) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id FROM orders LIMIT %s", (limit,)).fetchall()
    return [str(r[0]) for r in rows]


def bench_api(settings: Settings) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    port = _free_port()
    with _scoped_database(settings.require_database_url()) as database_url:
        env = {
            **os.environ,
            "REDIS_URL": settings.require_redis_url(),
            "DATABASE_URL": database_url,
            "PORT": str(port),
            "HOST": HOST,
            "OEE_KEY_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
            "LOG_LEVEL": "WARNING",
        }
        place = post_json(HOST, "/api/orders/execute", ORDER)
        with _part("api", env):
            _wait_healthy(port)
            saturated = asyncio.run(
                closed_loop(HOST, port, lambda n: place, connections=64, seconds=SECONDS)
            )
            figures["accept_per_s_saturation_64_conns"] = round(
                saturated.statuses.get(202, 0) / saturated.elapsed_s
            )
            offered = asyncio.run(
                open_loop(HOST, port, lambda n: place, rate=1_000, seconds=SECONDS)
            )
            figures["accept_p50_ms_at_1000_per_s"] = round(offered.percentile(0.50), 2)
            figures["accept_p99_ms_at_1000_per_s"] = round(offered.percentile(0.99), 2)
            figures["accept_non_202"] = sum(v for k, v in offered.statuses.items() if k != 202)
            placed = saturated.sent + offered.sent
            with _part("project", env):
                deadline = time.monotonic() + 300
                while _projected(database_url) < placed and time.monotonic() < deadline:
                    time.sleep(0.2)  # deliberate: waiting for the projector, with a deadline
            ids = _order_ids(database_url, 10_000)
            requests = [get(HOST, f"/api/orders/{order_id}") for order_id in ids]
            saturated_get = asyncio.run(
                closed_loop(
                    HOST,
                    port,
                    lambda n: requests[n % len(requests)],
                    connections=64,
                    seconds=SECONDS,
                )
            )
            figures["get_order_per_s_saturation_64_conns"] = round(saturated_get.per_second)
            offered_get = asyncio.run(
                open_loop(
                    HOST, port, lambda n: requests[n % len(requests)], rate=1_000, seconds=SECONDS
                )
            )
            figures["get_order_p50_ms_at_1000_per_s"] = round(offered_get.percentile(0.50), 2)
            figures["get_order_p99_ms_at_1000_per_s"] = round(offered_get.percentile(0.99), 2)
            figures["get_non_200"] = sum(v for k, v in offered_get.statuses.items() if k != 200)
    return figures
