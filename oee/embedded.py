"""Embedded Valkey and PostgreSQL, run from their wheels in a data folder that keeps its data.

One owner per data folder at a time (an flock). Servers a dead owner left running are found in
`servers.json`, verified through /proc (executable, working folder) and stopped before a new start.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from signal import SIGINT, SIGQUIT, SIGTERM, Signals
from types import TracebackType
from typing import Any, TypeVar

import psycopg
import redis
from psycopg import sql
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from oee.embedded_host import (
    STATE_FILE,
    EmbeddedServerError,
    check_reachable,
    free_server_port,
    lock_data_dir,
    log_tail,
    open_log,
    postgres_bin,
    service_account,
    valkey_binary,
    write_private,
)
from oee.processes import parent_death_signal, pids_running_in, runs_in, stop_process

logger = logging.getLogger(__name__)

DATABASE_NAME = "oee"
_GRACE_SECONDS = 15.0
_T = TypeVar("_T")


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
            self._account = service_account()
            self._open_for_traversal()
            check_reachable(self.data_dir, self._account)
            check_reachable(postgres_bin(), self._account)
        self._lock_fd = lock_data_dir(self.data_dir)
        try:
            previous = self._read_state()
            self._stop_stale(previous)
            password = self._password()
            for server in self._wanted:
                taken = {other.port for other in self._wanted if other is not server}
                server.port = free_server_port(previous.get(server.name, {}).get("port"), taken)
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
        write_private(
            config,
            f"bind 127.0.0.1\nport {server.port}\nprotected-mode yes\ndaemonize no\ndir {folder}\n"
            f'appendonly yes\nappendfsync everysec\nsave ""\nrequirepass {password}\n'
            'logfile ""\nloglevel notice\n',
        )
        self._spawn(server, [str(valkey_binary()), str(config)])
        self.redis_url = f"redis://:{password}@127.0.0.1:{server.port}/0"

    def _spawn_postgres(self, password: str) -> None:
        server = self._postgres
        if not (server.folder / "PG_VERSION").exists():
            if server.folder.exists() and any(server.folder.iterdir()):
                raise EmbeddedServerError(f"{server.folder} is neither empty nor PostgreSQL data")
            self._initdb(password)
        args = [str(postgres_bin() / "postgres"), "-D", str(server.folder), "-p", str(server.port)]
        args += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
        self._spawn(server, [*args, "-c", "max_connections=200"])
        port = server.port
        self.database_url = f"postgresql://postgres:{password}@127.0.0.1:{port}/{DATABASE_NAME}"

    def _initdb(self, password: str) -> None:
        """Initialise a side folder, then rename it into place: a half-done initdb never counts."""
        work, password_file = self.data_dir / "postgres.init", self.data_dir / "postgres.init.pw"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o700)
        write_private(password_file, password + "\n")
        if self._account is not None:
            for path in (work, password_file):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        logger.info("initialising PostgreSQL in %s (first start)", self._postgres.folder)
        args = [str(postgres_bin() / "initdb"), "-D", str(work), "-U", "postgres"]
        args += ["--auth-host=scram-sha-256", "--auth-local=peer", f"--pwfile={password_file}"]
        args += ["--encoding=UTF8", "--no-locale", "--no-instructions"]
        try:
            with open_log(self._postgres.log) as log:
                subprocess.run(args, stdout=log, stderr=log, check=True, **self._options(work))
        except subprocess.CalledProcessError as exc:
            tail = log_tail(self._postgres.log)
            raise EmbeddedServerError(f"initdb failed ({exc.returncode}):\n{tail}") from None
        finally:
            password_file.unlink(missing_ok=True)
        work.rename(self._postgres.folder)

    def _spawn(self, server: _Server, args: list[str]) -> None:
        arm = parent_death_signal(server.stop_signal) if self._stop_with_owner else None
        with open_log(server.log) as log:
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
                    f"{server.name} exited with code {code} while starting:\n{log_tail(server.log)}"
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
            write_private(path, secrets.token_urlsafe(24))
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
        write_private(temporary, json.dumps(state, indent=2))
        temporary.replace(self.data_dir / STATE_FILE)
