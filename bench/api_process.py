"""One `oee api` process for the HTTP benchmarks: its own port, PostgreSQL schema and Redis key
prefix, started as a subprocess (so the load generator never shares its event loop) and torn down
afterwards, with a reading of the CPU time it used.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import redis
from psycopg.conninfo import make_conninfo

from bench.process_readings import free_port
from eventlog.settings import Settings
from schema.migrate import migrate

HOST = "127.0.0.1"


@dataclass(frozen=True)
class BenchScope:
    """The settings of a benchmark's own corner of the servers, and the env of its processes."""

    settings: Settings
    env: dict[str, str]


@contextlib.contextmanager
def bench_scope(base: Settings) -> Iterator[BenchScope]:
    """A fresh migrated schema, key prefix and port; the schema and the keys are dropped
    afterwards."""
    database_url = base.require_database_url()
    tag = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{tag}"')
    try:
        scoped = make_conninfo(database_url, options=f"-c search_path={tag}")
        migrate(scoped)
        settings = base.model_copy(
            update={
                "database_url": scoped,
                "key_prefix": tag,
                "port": free_port(HOST),
                "host": HOST,
            }
        )
        env = {
            **os.environ,
            "REDIS_URL": settings.require_redis_url(),
            "DATABASE_URL": scoped,
            "PORT": str(settings.port),
            "HOST": HOST,
            "OEE_KEY_PREFIX": tag,
            "LOG_LEVEL": "WARNING",
        }
        yield BenchScope(settings, env)
    finally:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{tag}" CASCADE')
        finally:
            _delete_keys(base.require_redis_url(), tag)


def _delete_keys(redis_url: str, prefix: str) -> None:
    """Remove the benchmark's keys; a failure is reported, never raised over the benchmark's
    own outcome."""
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*", count=1_000):
            client.unlink(key)
    except redis.RedisError as exc:
        print(f"could not remove the keys {prefix}:*: {exc}", file=sys.stderr)
    finally:
        client.close()


@contextlib.contextmanager
def part_process(part: str, scope: BenchScope) -> Iterator[subprocess.Popen[bytes]]:
    """`oee <part>` running in the scope; stopped with SIGTERM on the way out."""
    process = subprocess.Popen([sys.executable, "-m", "oee", part], env=scope.env)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_healthy(port: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # deliberate: polling a starting server, with a deadline
    raise RuntimeError("the API did not become healthy")
