"""`oee up`: embedded servers unless URLs are given, migrations, then API, processors, projectors.

Ctrl-C or SIGTERM stops every child (SIGTERM, SIGKILL after a grace period), then the servers. A
child that dies unexpectedly brings everything down with a non-zero exit; nothing is left behind.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from urllib.parse import urlsplit, urlunsplit

from eventlog.settings import Settings
from oee.embedded import EmbeddedServers
from oee.embedded_host import EmbeddedServerError
from oee.processes import parent_death_signal, wait_for_exit
from oee.run_record import record_children, stop_leftover_children

logger = logging.getLogger(__name__)

# The API starts first and alone, so it is serving sooner on a small machine; the processors and
# projectors follow as soon as it is healthy (orders accepted meanwhile wait in the event log).
FIRST, THEN = "api", ("process", "project")
GRACE_SECONDS = 10.0
HEALTHY_WITHIN_SECONDS = 60.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_up(settings: Settings) -> int:
    """Run everything until a stop signal (exit 0) or a child's death (exit 1). Main thread only."""
    data_dir = settings.data_dir.expanduser().resolve()
    with _StopSignals() as stop, contextlib.ExitStack() as stack:
        stop_leftover_children(data_dir, GRACE_SECONDS)
        try:
            redis_url, database_url = _servers(settings, stack)
        except EmbeddedServerError as exc:
            logger.error("cannot start the embedded servers: %s", exc)
            return 1
        # Every setting `oee up` was given reaches the children, whatever it was read from.
        urls = {"redis_url": redis_url, "database_url": database_url}
        env = os.environ | settings.model_copy(update=urls).to_environ()
        children = stack.enter_context(_Children(env, stop, data_dir))
        if stop.received is not None:
            return 0
        migrate = children.spawn("migrate")
        if not children.wait_any([migrate], timeout=None):
            return 0
        if migrate.popen.returncode != 0:
            logger.error("migrations failed (exit code %s); stopping", migrate.popen.returncode)
            return 1
        children.spawn(FIRST)
        return children.supervise(settings.host, settings.port, then=THEN)


def _servers(settings: Settings, stack: contextlib.ExitStack) -> tuple[str | None, str]:
    """The configured URLs; embedded servers (stopped by `stack`) for the missing ones. With
    REDIS_CLUSTER_URL no Redis is embedded and the Redis URL is None: the children read the
    cluster's."""
    given_redis = None if settings.redis_cluster_url else settings.redis_url
    if (given_redis or settings.redis_cluster_url) and settings.database_url:
        return given_redis, settings.database_url
    servers = EmbeddedServers(
        settings.data_dir,
        redis_url=settings.redis_cluster_url or settings.redis_url,
        database_url=settings.database_url,
        stop_with_owner=True,
    )
    stack.callback(servers.stop)
    redis_url, database_url = servers.start()
    for name, given, url in (
        ("Valkey", settings.redis_url, redis_url),
        ("PostgreSQL", settings.database_url, database_url),
    ):
        if not given and not (name == "Valkey" and settings.redis_cluster_url):
            logger.info("embedded %s at %s", name, _without_password(url))
    return (None if settings.redis_cluster_url else redis_url), database_url


@dataclass(slots=True)
class _Child:
    name: str
    popen: subprocess.Popen[bytes]
    pidfd: int


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP only record themselves and wake a selector through a pipe."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None  # the first one
        self.count = 0
        self.fileno, self._wake = os.pipe()

    def __enter__(self) -> _StopSignals:
        os.set_blocking(self.fileno, False)
        os.set_blocking(self._wake, False)
        self._previous_fd = signal.set_wakeup_fd(self._wake, warn_on_full_buffer=False)
        self._previous = {sig: signal.signal(sig, self._record) for sig in _STOP_SIGNALS}
        return self

    def __exit__(self, *_: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self.fileno)
        os.close(self._wake)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        self.received = self.received or signal.Signals(signum)

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self.fileno, 512)


class _Children:
    """Each child runs in a process group of its own and gets SIGTERM if the supervisor dies; the
    running ones are recorded in the data folder for the next start, should the kernel's signal
    not be enough (a child that does not stop on SIGTERM)."""

    def __init__(self, env: dict[str, str], stop: _StopSignals, data_dir: Path) -> None:
        self._env, self._stop, self._data_dir = env, stop, data_dir
        self._children: list[_Child] = []

    def __enter__(self) -> _Children:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def spawn(self, name: str) -> _Child:
        popen = subprocess.Popen(
            [sys.executable, "-m", "oee", name],
            env=self._env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=parent_death_signal(signal.SIGTERM),
        )
        child = _Child(name, popen, os.pidfd_open(popen.pid))
        self._children.append(child)
        self._record()
        logger.info("started oee %s (pid %s)", name, popen.pid)
        return child

    def _record(self) -> None:
        running = [c for c in self._children if c.popen.returncode is None]
        record_children(self._data_dir, [(c.name, c.popen.pid) for c in running])

    def wait_any(self, children: list[_Child], timeout: float | None) -> _Child | None:
        """The first of `children` to exit (reaped), or None on a stop signal or timeout."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._stop.fileno, selectors.EVENT_READ)
            for child in children:
                selector.register(child.pidfd, selectors.EVENT_READ, child)
            for key, _ in selector.select(timeout):
                if isinstance(key.data, _Child):
                    key.data.popen.wait()
                    return key.data
            self._stop.drain()
            return None

    def supervise(self, host: str, port: int, then: tuple[str, ...]) -> int:
        """Wait for the API to be healthy, start `then`, and watch them all until a signal."""
        local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        url = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
        deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
        healthy = False
        while self._stop.received is None:
            running = [child for child in self._children if child.popen.returncode is None]
            exited = self.wait_any(running, timeout=None if healthy else 0.05)
            if exited is not None:
                code = exited.popen.returncode
                logger.error(
                    "oee %s (pid %s) exited with code %s; stopping",
                    exited.name,
                    exited.popen.pid,
                    code,
                )
                return 1
            if not healthy and api_is_healthy(local, port):
                healthy = True
                for name in then:
                    self.spawn(name)
                print(f"oee is up: {url}", flush=True)
            elif not healthy and time.monotonic() > deadline:
                logger.error(
                    "%s/health was not healthy within %.0f s; stopping", url, HEALTHY_WITHIN_SECONDS
                )
                return 1
        logger.info("received %s; stopping", self._stop.received.name)
        return 0

    def stop_all(self) -> None:
        """SIGTERM each child's group; SIGKILL what is left after the grace or a 2nd signal."""
        running = [child for child in self._children if child.popen.poll() is None]
        for child in running:
            logger.info("stopping oee %s (pid %s)", child.name, child.popen.pid)
            _signal_group(child, signal.SIGTERM)
        signals, deadline = self._stop.count, time.monotonic() + GRACE_SECONDS
        while running and time.monotonic() < deadline and self._stop.count == signals:
            exited = self.wait_any(running, timeout=deadline - time.monotonic())
            running = [child for child in running if child is not exited]
        for child in self._children:
            if child.popen.poll() is None:
                logger.warning(
                    "oee %s (pid %s) did not stop; killing it", child.name, child.popen.pid
                )
                _signal_group(child, signal.SIGKILL)
                wait_for_exit(child.pidfd, None)
                child.popen.wait()
            _signal_group(child, signal.SIGKILL)  # whatever it left in its group
            os.close(child.pidfd)
        self._children.clear()
        self._record()


def api_is_healthy(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether GET /health answers 200 with status "healthy"."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        body = response.read()
        return response.status == 200 and json.loads(body).get("status") == "healthy"
    except (OSError, ValueError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _signal_group(child: _Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.popen.pid, sig)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
