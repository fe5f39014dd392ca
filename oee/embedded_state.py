"""The data folder's records of its servers: `servers.json` (owner, pids, ports), the password.
Servers a dead owner left are stopped only once /proc shows they run our executable in our folder.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from signal import Signals
from typing import Any

from oee.embedded_host import STATE_FILE, EmbeddedServerError, write_private
from oee.embedded_process import GRACE_SECONDS, ServerProcess
from oee.processes import pids_running_in, runs_in, stop_process

logger = logging.getLogger(__name__)


def read_state(data_dir: Path) -> dict[str, Any]:
    """What the previous owner recorded; empty when nothing (readable) was."""
    try:
        state: dict[str, Any] = json.loads((data_dir / STATE_FILE).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable %s: %s", STATE_FILE, exc)
        return {}
    return state


def write_state(
    data_dir: Path, servers: Iterable[tuple[ServerProcess, str, str | None]], *, ready: bool
) -> None:
    """Pids and ports for a later stale clean-up; the URLs only while the servers answer.

    `servers` are the started ones, each with the key its URL is recorded under and the URL."""
    state: dict[str, Any] = {"owner_pid": os.getpid()}
    for server, url_key, url in servers:
        pid = server.process.pid if server.process is not None else None
        state[server.name] = {"pid": pid, "port": server.port}
        state[url_key] = url if ready else None
    temporary = data_dir / f".{STATE_FILE}.tmp"
    write_private(temporary, json.dumps(state, indent=2))
    temporary.replace(data_dir / STATE_FILE)


def stop_stale(previous: dict[str, Any], servers: Iterable[ServerProcess]) -> None:
    """Stop servers a dead owner left: the recorded pid first (a clean shutdown), then whatever
    else still runs our executable in our folder (PostgreSQL backends, a lost record)."""
    for server in servers:
        if recorded := previous.get(server.name, {}).get("pid"):
            _stop_if_ours(server, int(recorded), server.stop_signal, "left by a dead owner")
        for pid in pids_running_in(server.folder, server.executable):
            _stop_if_ours(server, pid, server.leftover_signal, "running in our folder")


def _stop_if_ours(server: ServerProcess, pid: int, sig: Signals, why: str) -> None:
    def verify(candidate: int) -> bool:
        return runs_in(candidate, server.executable, server.folder)

    if verify(pid):
        logger.warning("stopping %s (pid %s) %s", server.name, pid, why)
        stop_process(pid, sig, GRACE_SECONDS, verify=verify)


def server_password(data_dir: Path, *, database_exists: bool) -> str:
    """The servers' password, made on the first start; an existing database cannot do without."""
    path = data_dir / "password"
    if not path.exists():
        if database_exists:
            raise EmbeddedServerError(f"{path} is missing; the database in {path.parent} needs it")
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text().strip()
