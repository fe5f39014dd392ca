"""Readings of this machine's processes and ports for the benchmarks and tests: CPU time and
memory of a running process (through psutil) and a free local port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

import psutil

T = TypeVar("T")


class NoReadingError(RuntimeError):
    """A process that is gone (or one psutil cannot read) gives no reading; a figure of zero
    would be silently wrong."""


def _read(pid: int, what: str, read: Callable[[psutil.Process], T]) -> T:
    try:
        return read(psutil.Process(pid))
    except psutil.Error as exc:
        raise NoReadingError(f"no {what} of process {pid}: {exc}") from None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    times = _read(pid, "CPU times", lambda process: process.cpu_times())
    return times.user + times.system


def rss_kib(pid: int) -> int:
    """The process's resident memory now, in KiB."""
    return _read(pid, "memory reading", lambda process: process.memory_info().rss // 1024)


def peak_rss_kib(pid: int) -> int:
    """The most resident memory the process has held so far, in KiB: Linux's `VmHWM`, which
    psutil does not report, so it is read from /proc."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError as exc:
        raise NoReadingError(f"no /proc/{pid}/status: {exc}") from None
    raise NoReadingError(f"process {pid} reports no peak memory")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
