"""A benchmark's own corner of the servers: a fresh migrated PostgreSQL schema, a Redis key
prefix and a free port, removed afterwards; and the environment of the processes it starts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from bench.process_readings import free_port
from bench.redis_servers import delete_keys
from eventlog.settings import Settings
from schema.migrate import migrate

HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a child `python -m …`, with the project importable from
    any working folder."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def execution_run(settings: Settings, **overrides: object) -> Settings:
    """An execution benchmark's settings: a key prefix of its own, venues without latency or
    failures, the execution limits lifted, at least 200 orders in flight, quiet logs."""
    return settings.model_copy(
        update={
            "key_prefix": f"{settings.key_prefix}-bench-{uuid.uuid4().hex[:8]}",
            "venue_quote_latency_ms": 0,
            "venue_swap_latency_min_ms": 0,
            "venue_swap_latency_max_ms": 0,
            "venue_failure_rate": 0.0,
            "max_orders_per_minute": 0,
            "max_concurrent_orders": max(settings.max_concurrent_orders, 200),
            "log_level": "WARNING",
            **overrides,
        }
    )


@dataclass(frozen=True)
class BenchScope:
    """The settings of a benchmark's own corner of the servers, and the env of its processes."""

    settings: Settings
    env: dict[str, str]


@contextlib.contextmanager
def bench_scope(base: Settings) -> Iterator[BenchScope]:
    """A fresh migrated schema, key prefix and port; the schema and the keys are dropped
    afterwards. Both are named `bench_<base key prefix>_<random>`, so that whoever started the
    benchmark can tell its own corner from another run's."""
    database_url = base.require_database_url()
    tag = scope_tag_prefix(base) + uuid.uuid4().hex[:10]
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
        env = child_env(settings.model_copy(update={"log_level": "WARNING"}).to_environ())
        yield BenchScope(settings, env)
    finally:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{tag}" CASCADE')
        finally:
            delete_keys(base, tag)


def scope_tag_prefix(base: Settings) -> str:
    """The start of every schema and key prefix a benchmark run under `base` creates."""
    return f"bench_{base.key_prefix}_"


BENCH_CLIENT_KEY = "bench-client-key-0123456789"
BENCH_ADMIN_KEY = "bench-admin-key-0123456789"


def with_keys(settings: Settings, keys: bool) -> Settings:
    """`settings` with API keys on (one client's, one operator's) when `keys`, else unchanged:
    what authentication costs is measured by running a benchmark both ways."""
    if not keys:
        return settings
    return settings.model_copy(
        update={
            "api_keys": SecretStr(f"bench:{BENCH_CLIENT_KEY}"),
            "admin_api_keys": SecretStr(f"ops:{BENCH_ADMIN_KEY}"),
        }
    )


def key_header(key: str, keys: bool) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if keys else {}
