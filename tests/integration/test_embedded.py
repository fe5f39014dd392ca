"""Embedded Valkey and PostgreSQL: free ports of their own, AOF on, data kept across restarts, a
clean start after their owner was killed with SIGKILL, and one owner per data folder."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from oee.embedded import EmbeddedServers
from oee.embedded_host import DataDirBusyError, PrivateFolderError
from oee.processes import pids_running_in, stop_process

REPO = Path(__file__).resolve().parents[2]
MACHINE_PORTS = {5432, 6379}


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Under /tmp and not created yet: pytest's tmp_path lies in a 0700 folder, which PostgreSQL's
    # unprivileged user cannot enter when the tests run as root (README: "Running as root").
    path = Path("/tmp") / f"oee-test-{uuid.uuid4().hex[:12]}"
    yield path
    for folder, executable in ((path / "valkey", "valkey-server"), (path / "postgres", "postgres")):
        for pid in pids_running_in(folder, executable):  # only after a failed test
            stop_process(pid, signal.SIGKILL, 5)
    shutil.rmtree(path, ignore_errors=True)


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an exited orphan that this container's init does not reap)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] != "Z"


def server_pids(data_dir: Path) -> list[int]:
    state = json.loads((data_dir / "servers.json").read_text())
    return [state["valkey"]["pid"], state["postgres"]["pid"]]


def test_servers_take_free_ports_of_their_own_and_answer(data_dir: Path) -> None:
    with EmbeddedServers(data_dir) as servers:
        assert servers.redis_url is not None
        assert servers.database_url is not None
        redis_parts, pg_parts = urlsplit(servers.redis_url), urlsplit(servers.database_url)
        assert redis_parts.hostname == pg_parts.hostname == "127.0.0.1"
        ports = {redis_parts.port, pg_parts.port}
        assert len(ports) == 2
        assert not ports & MACHINE_PORTS

        with redis.Redis.from_url(servers.redis_url, decode_responses=True) as client:
            assert client.ping() is True
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            assert client.config_get("bind") == {"bind": "127.0.0.1"}
        with psycopg.connect(servers.database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.execute("SELECT current_database()").fetchone() == ("oee",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        pids = server_pids(data_dir)
        assert all(is_running(pid) for pid in pids)

    assert not any(is_running(pid) for pid in pids)


def test_data_survives_stop_and_start(data_dir: Path) -> None:
    with EmbeddedServers(data_dir) as servers:
        assert servers.redis_url is not None
        assert servers.database_url is not None
        with redis.Redis.from_url(servers.redis_url) as client:
            client.set("kept", "across restarts")
        with psycopg.connect(servers.database_url) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('across restarts')")

    with EmbeddedServers(data_dir) as servers:
        assert servers.redis_url is not None
        assert servers.database_url is not None
        with redis.Redis.from_url(servers.redis_url) as client:
            assert client.get("kept") == b"across restarts"
        with psycopg.connect(servers.database_url) as conn:
            assert conn.execute("SELECT value FROM kept").fetchall() == [("across restarts",)]
    assert any((data_dir / "valkey" / "appendonlydir").iterdir())


def test_start_after_owner_was_killed_stops_what_it_left_and_comes_up(data_dir: Path) -> None:
    script = (
        "import signal, sys\nfrom pathlib import Path\nfrom oee.embedded import EmbeddedServers\n"
        "print(*EmbeddedServers(Path(sys.argv[1])).start(), flush=True)\nsignal.pause()\n"
    )
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    }
    with subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir)], stdout=subprocess.PIPE, env=env, text=True
    ) as owner:
        try:
            assert owner.stdout is not None
            ready, _, _ = select.select([owner.stdout], [], [], 60)  # its start-up deadline
            assert ready, "the owner did not start its servers within 60 s"
            redis_url, database_url = owner.stdout.readline().split()
            with redis.Redis.from_url(redis_url) as client:
                client.set("written", "before the kill")
            with psycopg.connect(database_url) as conn:
                conn.execute("CREATE TABLE written AS SELECT 'before the kill' AS value")
            left = server_pids(data_dir)
        finally:
            owner.kill()  # SIGKILL: no chance to stop its servers
    assert all(is_running(pid) for pid in left), "the servers should outlive a SIGKILLed owner"

    with EmbeddedServers(data_dir) as servers:
        assert not any(is_running(pid) for pid in left)
        assert servers.redis_url is not None
        with redis.Redis.from_url(servers.redis_url) as client:
            assert client.get("written") == b"before the kill"
        assert servers.database_url is not None
        with psycopg.connect(servers.database_url) as conn:
            assert conn.execute("SELECT value FROM written").fetchone() == ("before the kill",)


def test_a_second_owner_of_the_same_data_folder_is_refused(data_dir: Path) -> None:
    with EmbeddedServers(data_dir):
        started = time.monotonic()
        with pytest.raises(DataDirBusyError, match=str(data_dir)):
            EmbeddedServers(data_dir).start()
        assert time.monotonic() - started < 5


# Only the owner may list or read the data folder; as root, PostgreSQL's own user may pass through.
PRIVATE_DATA_DIR = 0o701 if os.geteuid() == 0 else 0o700


def assert_private(data_dir: Path) -> None:
    assert stat.S_IMODE(data_dir.stat().st_mode) == PRIVATE_DATA_DIR
    opened = {
        entry.name: stat.filemode(entry.stat().st_mode)
        for entry in data_dir.iterdir()
        if entry.stat().st_mode & 0o077
    }
    assert not opened, f"readable by others in {data_dir}: {opened}"


def test_the_data_folder_and_what_it_holds_are_private(data_dir: Path) -> None:
    with EmbeddedServers(data_dir):
        assert_private(data_dir)
    assert {"password", "servers.json", "valkey", "postgres"} <= {
        p.name for p in data_dir.iterdir()
    }
    data_dir.chmod(0o755)  # as earlier versions left it
    with EmbeddedServers(data_dir):
        assert_private(data_dir)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_a_data_folder_inside_a_private_folder_is_refused_and_left_private(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700)
    data_dir.chmod(0o700)
    with pytest.raises(PrivateFolderError, match="cannot enter"):
        EmbeddedServers(data_dir / "inside").start()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_an_empty_private_data_folder_is_opened_for_traversal_only() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="oee-test-"))  # mode 0700
    try:
        with EmbeddedServers(data_dir) as servers:
            assert servers.database_url is not None
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o701
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
