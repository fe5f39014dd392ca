"""One embedded server as a process: how it is started (a session of its own, a bare environment,
PostgreSQL's account when run as root), waited for until it answers, and stopped.
A server that exits while it is being waited for fails the wait at once, with its log's tail.
"""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from signal import Signals
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from oee.embedded_host import EmbeddedServerError, log_tail, open_log
from oee.processes import parent_death_signal, stop_process

logger = logging.getLogger(__name__)

GRACE_SECONDS = 15.0
_T = TypeVar("_T")


@dataclass(slots=True, eq=False)
class ServerProcess:
    name: str  # its key in servers.json
    executable: str  # what /proc/<pid>/exe must be called to be ours
    folder: Path  # and /proc/<pid>/cwd (both servers chdir to their data folder)
    stop_signal: Signals  # SIGINT is PostgreSQL's fast shutdown
    leftover_signal: Signals  # for unrecorded ones; SIGQUIT ends any postgres process at once
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def log(self) -> Path:  # beside the data folder: PGDATA must hold PostgreSQL's files only
        return self.folder.parent / f"{self.name}.log"

    def stop(self) -> None:
        """Stop the process this object started, if any, and reap it."""
        if self.process is not None:
            logger.info("stopping embedded %s (pid %s)", self.name, self.process.pid)
            stop_process(self.process.pid, self.stop_signal, GRACE_SECONDS)
            self.process.wait()
            self.process = None


@dataclass(frozen=True, slots=True)
class Launcher:
    """How one owner starts its servers: as `account` (None: as itself), tied to the owning
    thread's life with `stop_with_owner`, each waited for at most `timeout` seconds."""

    account: pwd.struct_passwd | None
    stop_with_owner: bool
    timeout: float

    def spawn(self, server: ServerProcess, args: list[str], *, as_service: bool) -> None:
        arm = parent_death_signal(server.stop_signal) if self.stop_with_owner else None
        with open_log(server.log) as log:
            options = self.options(server.folder, as_service=as_service)
            server.process = subprocess.Popen(
                args, stdout=log, stderr=log, preexec_fn=arm, **options
            )
        logger.info("started %s (pid %s, port %s)", server.name, server.process.pid, server.port)

    def options(self, cwd: Path, *, as_service: bool = True) -> dict[str, Any]:
        # A session of its own: the terminal's Ctrl-C reaches only the owner, which stops in order.
        options: dict[str, Any] = {
            "cwd": cwd,
            "stdin": subprocess.DEVNULL,
            "start_new_session": True,
        }
        options["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        if as_service and self.account is not None:
            uid, gid = self.account.pw_uid, self.account.pw_gid
            options |= {"user": uid, "group": gid, "extra_groups": []}
        return options

    def wait_until(
        self,
        server: ServerProcess,
        attempt: Callable[[], _T],
        retryable: Callable[[BaseException], bool],
    ) -> _T:
        """`attempt` again while it fails `retryable`ly and the server runs, up to the timeout."""

        def alive_then_attempt() -> _T:
            assert server.process is not None
            if (code := server.process.poll()) is not None:
                raise EmbeddedServerError(
                    f"{server.name} exited with code {code} while starting:\n{log_tail(server.log)}"
                )
            return attempt()

        stop, wait = stop_after_delay(self.timeout), wait_fixed(0.02)
        retrying = Retrying(stop=stop, wait=wait, retry=retry_if_exception(retryable), reraise=True)
        return retrying(alive_then_attempt)
