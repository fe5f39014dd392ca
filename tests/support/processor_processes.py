"""An execution processor as a process of its own (`oee process`), to kill, and what it wrote,
read straight from the log."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from eventlog.keys import EXECUTION_GROUP, Keys
from eventlog.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def processor_process(
    settings: Settings, name: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "oee", "process", "--name", name],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **settings.to_environ(), "PYTHONPATH": str(ROOT)},
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


async def timelines(redis: aioredis.Redis, keys: Keys) -> dict[bytes, list[tuple[bytes, bytes]]]:
    """Each order's events as (type, data), read straight from the log."""
    orders: dict[bytes, list[tuple[bytes, bytes]]] = defaultdict(list)
    entries: Any = await redis.xrange(keys.events)
    for _, fields in entries:
        orders[fields[b"order_id"]].append((fields[b"type"], fields[b"data"]))
    return orders


def no_pending(redis: aioredis.Redis, keys: Keys) -> Any:
    async def check() -> bool:
        summary: Any = await redis.xpending(keys.events, EXECUTION_GROUP)
        return int(summary["pending"]) == 0

    return check
