"""A Redis server of the test's own that can be made full (`maxmemory`, noeviction), to see what
the engine does when its log's store refuses writes. The embedded servers' valkey binary runs it."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis

from bench.process_readings import free_port
from oee.embedded_host import valkey_binary


@contextlib.contextmanager
def small_redis() -> Iterator[str]:
    """The URL of a fresh server that refuses writes once it is full (`make_full`: maxmemory with
    noeviction); stopped on the way out."""
    port = free_port("127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="oee-small-redis-") as folder:
        server = subprocess.Popen(
            [
                str(valkey_binary()),
                "--port", str(port), "--bind", "127.0.0.1", "--dir", folder,
                "--save", "", "--appendonly", "no",
                "--maxmemory-policy", "noeviction",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        try:
            client = redis.Redis.from_url(url)
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.02)  # deliberate: polling a server that is starting
            client.close()
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def make_full(url: str) -> None:
    """Bring the server to its maxmemory: the limit is set below what it holds, so every write is
    refused (noeviction) until `make_room`."""
    client = redis.Redis.from_url(url)
    try:
        client.set("ballast", b"x" * 2_000_000)
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", str(used // 2))
    finally:
        client.close()


def make_room(url: str) -> None:
    """Memory is back: the limit is lifted."""
    client = redis.Redis.from_url(url)
    try:
        client.config_set("maxmemory", "0")
    finally:
        client.close()
