"""Linux process control for what oee starts: stop a process safely, tie a child to its parent, find
processes by executable and working folder. A pidfd pins each process, so a reused pid is never hit.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


def stop_process(
    pid: int, sig: signal.Signals, grace: float, *, verify: Callable[[int], bool] | None = None
) -> bool:
    """Send `sig`; after `grace` seconds SIGKILL the process (and its group, if it leads one).

    A pidfd pins the process, so `verify` and the signals concern one process even if the pid is
    reused. Returns False, having sent nothing, when `verify` rejects the process.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if verify is not None and not verify(pid):
            return False
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, sig)
        if not wait_for_exit(pidfd, grace):
            logger.warning("pid %s still runs %.0f s after %s; killing it", pid, grace, sig.name)
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            wait_for_exit(pidfd, grace)
    finally:
        os.close(pidfd)
    return True


def wait_for_exit(pidfd: int, timeout: float | None) -> bool:
    """Wait until the process behind `pidfd` exits; False if `timeout` seconds pass first."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else int(timeout * 1000)))


def parent_death_signal(sig: signal.Signals) -> Callable[[], None]:
    """A `preexec_fn`: the kernel sends `sig` to the child when the thread that started it dies."""
    libc, parent = ctypes.CDLL(None, use_errno=True), os.getpid()

    def arm() -> None:
        libc.prctl(1, int(sig))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before it was armed
            os.kill(os.getpid(), sig)

    return arm


def runs_in(pid: int, executable: str, folder: Path) -> bool:
    try:
        exe, cwd = os.readlink(f"/proc/{pid}/exe"), os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return Path(exe).name.split(" ")[0] == executable and Path(cwd) == folder


def pids_running_in(folder: Path, executable: str) -> list[int]:
    pids = (int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [pid for pid in pids if runs_in(pid, executable, folder)]


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (with the pid, names one process for good);
    None when it is gone or has exited (a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])
