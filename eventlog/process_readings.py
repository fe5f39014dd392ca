"""Readings of this machine's processes and ports for the benchmarks and tests: CPU time and
memory of a running process (Linux /proc) and a free local port.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


class NoReadingError(RuntimeError):
    """A process that is gone (or a system without /proc) gives no reading; a figure of zero
    would be silently wrong."""


def _proc(pid: int, name: str) -> str:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError as exc:
        raise NoReadingError(f"no /proc/{pid}/{name}: {exc}") from None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = _proc(pid, "stat").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of the process in KiB: `VmRSS` now, `VmHWM` its peak."""
    for line in _proc(pid, "status").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise NoReadingError(f"process {pid} reports no {field}")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
