"""Starting the whole engine as real processes for tests that drive it from outside: `oee api`,
`oee process` and `oee project` on a free port, stopped (and their Redis keys removed) afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import redis

from bench.process_readings import free_port
from eventlog.keys import EXECUTION_GROUP, Keys
from eventlog.trim_point import ARCHIVE_GROUP
from projections.registry import PROJECTIONS, group_name

FAST_VENUES = {
    "OEE_VENUE_QUOTE_LATENCY_MS": "0",
    "OEE_VENUE_SWAP_LATENCY_MIN_MS": "0",
    "OEE_VENUE_SWAP_LATENCY_MAX_MS": "0",
    "OEE_VENUE_FAILURE_RATE": "0",
    "OEE_CONSUMER_BLOCK_MS": "50",
    "MAX_ORDERS_PER_MINUTE": "0",
    "LOG_LEVEL": "WARNING",
}


# The consumer groups each part runs, which /health lists once the part's consumers are live.
PART_GROUPS = {
    "process": (EXECUTION_GROUP,),
    "project": (*(group_name(p) for p in PROJECTIONS.values()), ARCHIVE_GROUP),
}


def wait_healthy(
    base_url: str,
    process: subprocess.Popen[bytes],
    within: float = 30,
    groups: tuple[str, ...] = (),
) -> None:
    """Wait until the API answers healthy and each of `groups` has a live consumer."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.get(f"{base_url}/health", timeout=1)
            if answer.status_code == 200 and _all_live(answer.json(), groups):
                return
        time.sleep(0.05)  # deliberate: polling a server that is starting, with a deadline
    raise RuntimeError(f"{base_url} was not healthy with {groups} live within {within} s")


def _all_live(health: dict[str, Any], groups: tuple[str, ...]) -> bool:
    consumers = health["checks"].get("consumers", {})
    return all(consumers.get(group, {}).get("consumers") for group in groups)


@contextlib.contextmanager
def running_engine(
    redis_url: str,
    database_url: str,
    *,
    key_prefix: str,
    parts: tuple[str, ...] = ("api", "process", "project"),
    env: dict[str, str] | None = None,
    cluster: bool = False,
) -> Iterator[str]:
    """The engine's base URL while its parts run; `database_url` must be migrated already.
    With `cluster`, `redis_url` is a node of a Redis Cluster."""
    port = free_port()
    environment = {
        **os.environ,
        **FAST_VENUES,
        **(env or {}),
        "REDIS_URL": "" if cluster else redis_url,
        "REDIS_CLUSTER_URL": redis_url if cluster else "",
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "OEE_KEY_PREFIX": key_prefix,
    }
    started = [
        subprocess.Popen([sys.executable, "-m", "oee", part], env=environment) for part in parts
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        groups = tuple(group for part in parts for group in PART_GROUPS.get(part, ()))
        wait_healthy(url, started[0], groups=groups)
        yield url
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)
        keys = Keys(key_prefix, hash_tagged=cluster)
        client = (redis.RedisCluster if cluster else redis.Redis).from_url(redis_url)
        try:
            for key in client.scan_iter(match=keys.all(), count=1000):
                client.unlink(key)
        finally:
            client.close()
