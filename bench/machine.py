"""The machine a benchmark ran on, named in its figures: processor, cores, memory, and the
versions of Python, Redis and PostgreSQL it measured."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis

from eventlog.settings import Settings


def _processor() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe_machine(settings: Settings) -> dict[str, Any]:
    client = redis.Redis.from_url(settings.require_redis_url())
    try:
        server: Any = client.info("server")
    finally:
        client.close()
    with psycopg.connect(settings.require_database_url()) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "processor": _processor(),
        "cpus": os.cpu_count() or 0,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "redis": (
            f"Valkey {server['valkey_version']}"
            if "valkey_version" in server
            else f"Redis {server.get('redis_version', '?')}"
        ),
        "postgres": f"PostgreSQL {row[0] if row else '?'}",
    }
