"""One `oee api` process for the HTTP benchmarks, started as a subprocess in a benchmark's scope
(so the load generator never shares its event loop) and stopped afterwards.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from bench.scope import HOST, BenchScope


@contextlib.contextmanager
def part_process(part: str, scope: BenchScope) -> Iterator[subprocess.Popen[bytes]]:
    """`oee <part>` running in the scope; stopped with SIGTERM on the way out."""
    process = subprocess.Popen([sys.executable, "-m", "oee", part], env=scope.env)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_healthy(port: int, within: float = 30, path: str = "/health") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://{HOST}:{port}{path}", timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # deliberate: polling a starting server, with a deadline
    raise RuntimeError("the API did not become healthy")
