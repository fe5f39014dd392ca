"""Parts of the engine as processes of their own (`oee process`, `oee project`), to kill, and
what they wrote, read straight from the log."""

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
def oee_part(settings: Settings, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`oee <args>` as a process of its own with these settings, its output in `log`; killed
    on the way out if it still runs."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "oee", *args],
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


def processor_process(
    settings: Settings, name: str, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """An execution processor, `oee process --name <name>`."""
    return oee_part(settings, log, "process", "--name", name)


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
