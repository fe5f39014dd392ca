"""The contract suite drives a running server over HTTP by base URL.

`OEE_BASE_URL` points it at any deployment; otherwise a fixture starts `oee api` (and, where a
contract needs them, `oee process` and `oee project`) against the test servers, on a free port,
with a key prefix and a database schema of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from schema.migrate import migrate


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # deliberate: polling a server that is starting, with a deadline
    raise RuntimeError(f"{base_url} was not healthy within {within} s")


@pytest.fixture(scope="session")
def base_url(server_urls: tuple[str, str]) -> Iterator[str]:
    external = os.environ.get("OEE_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    redis_url, database_url = server_urls
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    scoped_db = make_conninfo(database_url, options=f"-c search_path={schema}")
    migrate(scoped_db)
    port = _free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": scoped_db,
        "PORT": str(port),
        "OEE_KEY_PREFIX": f"contract{uuid.uuid4().hex[:8]}",
        "OEE_VENUE_QUOTE_LATENCY_MS": "0",
        "OEE_VENUE_SWAP_LATENCY_MIN_MS": "0",
        "OEE_VENUE_SWAP_LATENCY_MAX_MS": "0",
        "OEE_VENUE_FAILURE_RATE": "0",
        "OEE_CONSUMER_BLOCK_MS": "50",
        "LOG_LEVEL": "WARNING",
    }
    parts = [
        subprocess.Popen([sys.executable, "-m", "oee", part], env=env)
        for part in ("api", *_background_parts())
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, parts[0])
        yield url
    finally:
        for process in parts:
            process.terminate()
        for process in parts:
            process.wait(timeout=30)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _background_parts() -> list[str]:
    """Processors and projectors run beside the API once those parts exist in this checkout."""
    parts = []
    for part, module in (("process", "processors.run"), ("project", "projections.run")):
        try:
            __import__(module)
        except ImportError:
            continue
        parts.append(part)
    return parts


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
