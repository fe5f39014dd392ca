"""Start-up benchmark: seconds from launching `oee up` (embedded servers) to a healthy `/health`.

Cold is a fresh data folder (initdb, first migrations); warm is the same folder again. Each run is
stopped with SIGINT and waited for, so runs never overlap. `oee bench startup [--runs N]`; it
always starts the embedded servers, whatever REDIS_URL and DATABASE_URL name.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.process_readings import free_port
from oee.up import api_is_healthy

RUNS = 3
DEADLINE_SECONDS = 60.0
_UNSET = ("REDIS_URL", "DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")


class StartupBenchError(RuntimeError):
    """`oee up` exited or never became healthy during a measured start."""


def bench_startup(runs: int = RUNS) -> dict[str, float]:
    """Median and worst cold and warm start times over `runs` fresh data folders."""
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(runs):
        data_dir = Path(tempfile.mkdtemp(prefix="oee-bench-startup-"))
        try:
            cold.append(time_until_healthy(data_dir))
            warm.append(time_until_healthy(data_dir))
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "cold_start_s": round(statistics.median(cold), 3),
        "cold_start_max_s": round(max(cold), 3),
        "warm_start_s": round(statistics.median(warm), 3),
        "warm_start_max_s": round(max(warm), 3),
        "runs": float(runs),
    }


def time_until_healthy(data_dir: Path) -> float:
    """Launch `oee up` on `data_dir`, time it until healthy, then stop it with SIGINT."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in _UNSET}
    env |= {"PORT": str(port), "OEE_DATA_DIR": str(data_dir), "HOST": "127.0.0.1"}
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        up = subprocess.Popen([sys.executable, "-m", "oee", "up"], env=env, stdout=log, stderr=log)
        try:
            while not api_is_healthy("127.0.0.1", port, timeout=1.0):
                elapsed = time.perf_counter() - started
                if up.poll() is not None or elapsed > DEADLINE_SECONDS:
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-4000:]
                    raise StartupBenchError(f"oee up not healthy after {elapsed:.1f} s:\n{output}")
                time.sleep(0.01)  # the polling interval, which bounds the measurement's precision
            elapsed = time.perf_counter() - started
        finally:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
    return elapsed
