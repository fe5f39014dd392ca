"""`oee api --workers N`: N API processes serving one port, for the CPU one process cannot give.

Each worker is a whole API process (its own connections, log relay, live orders and limits) that
listens on the port with SO_REUSEPORT, so the kernel spreads new connections over the workers
evenly. The parent only supervises: a worker that dies is replaced, unless workers keep dying
within their first seconds (the API cannot start: a port taken, a setting refused), which stops
them all; SIGTERM or SIGINT stops every worker gracefully and waits for them.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import cast

from eventlog.settings import Settings
from oee.processes import parent_death_signal

logger = logging.getLogger(__name__)

STARTING_S = 5.0  # a worker that exits sooner than this after its start exited "at start"
EARLY_EXITS = 3  # so many exits at start in a row stop them all: the API cannot start
LISTEN_BACKLOG = 2048
GRACE_S = 30.0  # how long stopped workers may take before they are killed
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class PortInUseError(OSError):
    def __init__(self, host: str, port: int, reason: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason.strerror or reason}")


def _tcp_socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.socket(family, socket.SOCK_STREAM)


def shared_listener(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` that other processes may open too (SO_REUSEPORT)."""
    listener = _tcp_socket(host)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
        listener.listen(LISTEN_BACKLOG)
    except OSError as exc:
        listener.close()
        raise PortInUseError(host, port, exc) from exc
    return listener


def _require_free(host: str, port: int) -> None:
    """Refuse a port anything listens on, another `oee api --workers` included: a probe bound
    without SO_REUSEPORT fails where a SO_REUSEPORT socket would quietly share the port."""
    with _tcp_socket(host) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(host, port, exc) from exc


def _worker(settings: Settings, arm_parent_death: Callable[[], None]) -> None:
    from api.serving import serve_on
    from oee.wiring import api_app

    for sig in STOP_SIGNALS:  # not the supervisor's handlers, forked with it (while blocked)
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    arm_parent_death()  # never outlive the supervisor
    serve_on(shared_listener(settings.host, settings.port), api_app(settings), settings)


class _Workers:
    """The supervisor's workers: started with the stop signals blocked (so that neither the
    supervisor between fork and record nor a worker before its own handlers runs the
    supervisor's handler), stopped with SIGTERM and, past a grace period, SIGKILL."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("fork")  # from this parsed state
        self._arm = parent_death_signal(signal.SIGTERM)  # armed in each worker, for this pid
        self.running: dict[int, tuple[BaseProcess, float]] = {}
        self.stopping_since: float | None = None

    def start(self) -> None:
        process = self._context.Process(
            target=_worker, args=(self._settings, self._arm), name="oee-api-worker"
        )
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
            assert process.sentinel is not None
            self.running[process.sentinel] = (process, time.monotonic())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if self.stopping_since is not None:  # stopped while it was being started
            _signal(process, signal.SIGTERM)

    def stop(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
        for process, _ in self.running.values():
            _signal(process, signal.SIGTERM)

    def kill_if_overdue(self) -> None:
        if self.stopping_since is not None and time.monotonic() - self.stopping_since > GRACE_S:
            for process, _ in self.running.values():
                _signal(process, signal.SIGKILL)


def _signal(process: BaseProcess, sig: signal.Signals) -> None:
    if process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)


def serve_workers(settings: Settings, workers: int) -> int:
    """Run `workers` API processes on the settings' port until signalled; the exit status."""
    _require_free(settings.host, settings.port)
    pool = _Workers(settings)
    previous = {sig: signal.signal(sig, pool.stop) for sig in STOP_SIGNALS}
    status = early_exits = 0
    try:
        for _ in range(workers):
            pool.start()
        logger.info("%s API workers on %s:%s", workers, settings.host, settings.port)
        while pool.running:
            pool.kill_if_overdue()
            for sentinel in wait(list(pool.running), timeout=1.0):
                process, started = pool.running.pop(cast(int, sentinel))
                process.join()
                if pool.stopping_since is not None:
                    continue
                early_exits = early_exits + 1 if time.monotonic() - started < STARTING_S else 0
                if early_exits >= EARLY_EXITS:
                    logger.error(
                        "API workers keep exiting at start (the last, %s, with %s); stopping",
                        process.pid,
                        process.exitcode,
                    )
                    status = 1
                    pool.stop()
                    continue
                logger.warning(
                    "API worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                pool.start()
    finally:
        pool.stop()  # whatever ended the loop (a failed fork included), no worker is left
        for process, _ in list(pool.running.values()):
            process.join(GRACE_S)
            if process.exitcode is None:  # still running (never a reaped pid: it may be reused)
                _signal(process, signal.SIGKILL)
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
