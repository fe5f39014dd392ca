"""`GET /health` one after another from a process of its own (so that a load generator's event loop
never delays it), until its standard input closes; then it prints the latencies (ms) as JSON.

    python -m bench.health_probe BASE_URL
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from bench.percentile import percentile
from bench.scope import child_env

PROBE_EVERY_SECONDS = 0.05


def probe_until_stdin_closes(base_url: str) -> dict[str, Any]:
    closed = threading.Event()

    def wait_for_stdin() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=wait_for_stdin, daemon=True).start()
    latencies: list[float] = []
    failures = 0
    with httpx.Client(base_url=base_url, timeout=30) as http:
        print("ready", flush=True)
        while not closed.is_set():
            started = time.perf_counter()
            try:
                http.get("/health")
                latencies.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                failures += 1
            closed.wait(PROBE_EVERY_SECONDS)  # the probe's own pace
    return {"latencies": latencies, "failures": failures}


def figures(found: dict[str, Any]) -> dict[str, Any]:
    """Count, failures, p50, p99 and max of a probe's latencies."""
    latencies = found["latencies"]
    return {
        "probes": len(latencies),
        "failures": found["failures"],
        "p50Ms": round(percentile(latencies, 0.5), 1),
        "p99Ms": round(percentile(latencies, 0.99), 1),
        "maxMs": round(max(latencies), 1),
    }


class HealthProbe:
    """The probe process while the block runs; `figures` afterwards."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}

    @contextlib.contextmanager
    def running(self, base_url: str) -> Iterator[HealthProbe]:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.health_probe", base_url],
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        process.stdout.readline()  # "ready": probing from now on
        try:
            yield self
        finally:
            output, _ = process.communicate(b"", timeout=60)
            self.figures = figures(orjson.loads(output))


if __name__ == "__main__":
    print(orjson.dumps(probe_until_stdin_closes(sys.argv[1])).decode())
