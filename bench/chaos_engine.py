"""The engine's parts as real processes for the chaos run (`oee api`, two `oee process` with
names of their own, `oee project`), each killed with SIGKILL and started again on demand, the way
a supervisor restarts what died; each part's output goes to a log file of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from oee.embedded_host import log_tail, open_log
from oee.processes import parent_death_signal

# Part name -> the `oee` command line that runs it.
PARTS: dict[str, tuple[str, ...]] = {
    "api": ("api",),
    "processor-a": ("process", "--name", "chaos-a"),
    "processor-b": ("process", "--name", "chaos-b"),
    "projector": ("project", "--name", "chaos-projector"),
}


class Engine:
    """The running parts, by name."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self._env = env
        self._logs = logs
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = dict.fromkeys(PARTS, 0)

    def start(self, part: str) -> None:
        with open_log(self._logs / f"{part}.log") as log:
            self._running[part] = subprocess.Popen(
                [sys.executable, "-m", "oee", *PARTS[part]],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=parent_death_signal(signal.SIGKILL),  # none outlives the run
            )

    def start_all(self) -> None:
        for part in PARTS:
            self.start(part)

    def kill_and_restart(self, part: str) -> None:
        process = self._running[part]
        process.kill()  # SIGKILL: no clean-up of any kind
        process.wait(timeout=10)
        self.restarts[part] += 1
        self.start(part)

    def exited(self) -> dict[str, int]:
        """The parts that have exited by themselves, with their exit codes."""
        return {part: code for part, p in self._running.items() if (code := p.poll()) is not None}

    def stop_all(self, within: float = 30) -> dict[str, int | None]:
        """SIGTERM to every part; each one's exit code (None: it had to be killed)."""
        for process in self._running.values():
            if process.poll() is None:
                process.terminate()
        codes: dict[str, int | None] = {}
        for part, process in self._running.items():
            try:
                codes[part] = process.wait(timeout=within)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                codes[part] = None
        return codes

    def log_tail(self, part: str, lines: int = 30) -> str:
        return log_tail(self._logs / f"{part}.log", lines)
