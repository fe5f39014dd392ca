"""The two embedded servers together: Valkey and PostgreSQL from their wheels, in a data folder
that keeps its data. One owner per data folder at a time (an flock); servers a dead owner left
running are stopped before a new start, and a failed start stops whatever it had started.
"""

from __future__ import annotations

import atexit
import os
import pwd
from pathlib import Path
from types import TracebackType

from oee.embedded_host import (
    EmbeddedServerError,
    free_server_port,
    lock_data_dir,
    require_packages,
    settle_data_dir_mode,
)
from oee.embedded_postgres import (
    account_for_root,
    has_postgres_data,
    postgres_server,
    remove_stale_pid_file,
    start_postgres,
    wait_for_postgres,
)
from oee.embedded_process import Launcher, ServerProcess
from oee.embedded_state import read_state, server_password, stop_stale, write_state
from oee.embedded_valkey import start_valkey, valkey_server, wait_for_valkey


class EmbeddedServers:
    """Valkey (AOF on) in `<data_dir>/valkey/`, PostgreSQL in `<data_dir>/postgres/`, on 127.0.0.1.

    A URL given to the constructor is used as is and its server is not started, nor needs its wheel
    (the `embedded` extra; `EmbeddedNotInstalledError` at once when one wanted is missing). With
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
        require_packages(valkey=redis_url is None, postgres=database_url is None)
        self.data_dir = data_dir.expanduser().resolve()  # /proc shows resolved paths
        self.redis_url, self.database_url = redis_url, database_url
        self._stop_with_owner = stop_with_owner
        self._timeout = start_timeout
        self._valkey = valkey_server(self.data_dir)
        self._postgres = postgres_server(self.data_dir)
        pairs = ((self._valkey, redis_url), (self._postgres, database_url))
        self._wanted = [server for server, url in pairs if url is None]
        self._lock_fd: int | None = None

    def start(self) -> tuple[str, str]:
        """Start the missing servers; return `(redis_url, database_url)` once both answer."""
        if self._lock_fd is not None:
            raise EmbeddedServerError(f"the servers in {self.data_dir} are already started")
        as_root = self._postgres in self._wanted and os.geteuid() == 0
        settle_data_dir_mode(self.data_dir, traversable=as_root)
        account: pwd.struct_passwd | None = None
        if as_root:
            account = account_for_root(self.data_dir)
        launcher = Launcher(account, self._stop_with_owner, self._timeout)
        self._lock_fd = lock_data_dir(self.data_dir)
        try:
            previous = read_state(self.data_dir)
            stop_stale(previous, (self._valkey, self._postgres))
            remove_stale_pid_file(self._postgres)
            database_exists = has_postgres_data(self._postgres)
            password = server_password(self.data_dir, database_exists=database_exists)
            for server in self._wanted:
                taken = {other.port for other in self._wanted if other is not server}
                server.port = free_server_port(previous.get(server.name, {}).get("port"), taken)
                if server is self._valkey:
                    self.redis_url = start_valkey(server, launcher, password)
                else:
                    self.database_url = start_postgres(server, launcher, password)
                self._write_state(ready=False)  # from here on a kill -9 leaves a record
            if self._valkey in self._wanted:
                wait_for_valkey(self._valkey, launcher, password)
            if self._postgres in self._wanted:
                wait_for_postgres(self._postgres, launcher, password)
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
            server.stop()
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

    def _write_state(self, *, ready: bool) -> None:
        records: list[tuple[ServerProcess, str, str | None]] = [
            (self._valkey, "redis_url", self.redis_url),
            (self._postgres, "database_url", self.database_url),
        ]
        write_state(self.data_dir, [r for r in records if r[0] in self._wanted], ready=ready)
