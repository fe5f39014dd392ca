"""A Redis server of a benchmark's own that keeps its data in an append-only file (fsync on every
write) in a folder of its own, so that it can be killed and started again on the same port and
folder with nothing it acknowledged lost. The embedded servers' valkey binary runs it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from bench.process_readings import free_port
from oee.embedded_host import valkey_binary
from oee.processes import parent_death_signal

READY_WITHIN_S = 30


class AofRedis:
    """One server; `restart` kills it (SIGKILL) and starts it again on the same port and folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port("127.0.0.1")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.spawn()
        self._wait_ready()

    def spawn(self) -> None:
        """Start the server without waiting for it; it gets SIGKILL should this process die."""
        command = [
            str(valkey_binary()),
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--logfile", str(self.folder / "server.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, preexec_fn=parent_death_signal(signal.SIGKILL)
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last flush; what the append-only file holds is what comes
        back."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)

    def _wait_ready(self) -> None:
        """Until the server answers and has loaded its file (a loading server answers an error)."""
        assert self._process is not None
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + READY_WITHIN_S
        try:
            while True:
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    if time.monotonic() > deadline or self._process.poll() is not None:
                        raise
                    time.sleep(0.02)  # deliberate: polling a server that is starting
        finally:
            client.close()


@contextlib.contextmanager
def aof_redis() -> Iterator[AofRedis]:
    """A started server in a fresh folder; stopped and its folder removed on the way out."""
    with tempfile.TemporaryDirectory(prefix="oee-chaos-redis-") as folder:
        server = AofRedis(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.stop()
