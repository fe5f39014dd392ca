"""The embedded PostgreSQL server: PGDATA in `<data_dir>/postgres/`, TCP on 127.0.0.1 only, SCRAM.
A half-done initdb never counts; as root it runs as an unprivileged account that must reach its
folders without any being opened up, and the `oee` database exists once it answers.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import subprocess
from pathlib import Path
from signal import SIGINT, SIGQUIT
from typing import Any

import psycopg
from psycopg import sql

from oee.embedded_host import (
    EmbeddedServerError,
    check_reachable,
    log_tail,
    open_log,
    postgres_bin,
    service_account,
    write_private,
)
from oee.embedded_process import Launcher, ServerProcess

logger = logging.getLogger(__name__)

DATABASE_NAME = "oee"


def postgres_server(data_dir: Path) -> ServerProcess:
    return ServerProcess("postgres", "postgres", data_dir / "postgres", SIGINT, SIGQUIT)


def has_postgres_data(server: ServerProcess) -> bool:
    return (server.folder / "PG_VERSION").exists()


def account_for_root(data_dir: Path) -> pwd.struct_passwd:
    """The account PostgreSQL runs as when the owner is root; refuses folders it cannot reach."""
    account = service_account()
    check_reachable(data_dir, account)
    check_reachable(postgres_bin(), account)
    return account


def remove_stale_pid_file(server: ServerProcess) -> None:
    """After the stale clean-up no postgres of ours runs, so its postmaster.pid is a leftover."""
    if (pid_file := server.folder / "postmaster.pid").exists():
        logger.info("removing stale %s", pid_file)
        pid_file.unlink(missing_ok=True)


def start_postgres(server: ServerProcess, launcher: Launcher, password: str) -> str:
    """Initialise PGDATA on the first start, then start it on `server.port`; returns its URL."""
    if not has_postgres_data(server):
        if server.folder.exists() and any(server.folder.iterdir()):
            raise EmbeddedServerError(f"{server.folder} is neither empty nor PostgreSQL data")
        _initdb(server, launcher, password)
    args = [str(postgres_bin() / "postgres"), "-D", str(server.folder), "-p", str(server.port)]
    args += ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="]
    launcher.spawn(server, [*args, "-c", "max_connections=200"], as_service=True)
    port = server.port
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/{DATABASE_NAME}"


def _initdb(server: ServerProcess, launcher: Launcher, password: str) -> None:
    """Initialise a side folder, then rename it into place: a half-done initdb never counts."""
    data_dir = server.folder.parent
    work, password_file = data_dir / "postgres.init", data_dir / "postgres.init.pw"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    write_private(password_file, password + "\n")
    if launcher.account is not None:
        for path in (work, password_file):
            os.chown(path, launcher.account.pw_uid, launcher.account.pw_gid)
    logger.info("initialising PostgreSQL in %s (first start)", server.folder)
    args = [str(postgres_bin() / "initdb"), "-D", str(work), "-U", "postgres"]
    args += ["--auth-host=scram-sha-256", "--auth-local=peer", f"--pwfile={password_file}"]
    args += ["--encoding=UTF8", "--no-locale", "--no-instructions"]
    try:
        with open_log(server.log) as log:
            subprocess.run(args, stdout=log, stderr=log, check=True, **launcher.options(work))
    except subprocess.CalledProcessError as exc:
        tail = log_tail(server.log)
        raise EmbeddedServerError(f"initdb failed ({exc.returncode}):\n{tail}") from None
    finally:
        password_file.unlink(missing_ok=True)
    work.rename(server.folder)


def wait_for_postgres(server: ServerProcess, launcher: Launcher, password: str) -> None:
    """Wait until it accepts the password, then create the `oee` database if it is missing."""
    admin = f"postgresql://postgres:{password}@127.0.0.1:{server.port}/postgres"

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(admin, autocommit=True, connect_timeout=5)

    def retryable(exc: BaseException) -> bool:  # starting up, not yet listening: not bad auth
        return isinstance(exc, psycopg.OperationalError) and "authentication" not in str(exc)

    with launcher.wait_until(server, connect, retryable) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if conn.execute(query, (DATABASE_NAME,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
            logger.info("created database %s", DATABASE_NAME)
