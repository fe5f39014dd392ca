"""`oee up` with no URLs: embedded servers on ports of their own, healthy within 30 s, nothing it
started left after Ctrl-C, a second run that finds the first run's data, and a child whose death
takes the whole run down with a non-zero exit."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from bench.process_readings import free_port

REPO = Path(__file__).resolve().parents[2]
MACHINE_PORTS = {5432, 6379}
UNSET = ("REDIS_URL", "DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")

Process = tuple[int, str]  # pid and start time: a pid alone may be reused


class NotHealthyYetError(AssertionError):
    pass


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Under /tmp and not created yet: pytest's tmp_path lies in a 0700 folder, which PostgreSQL's
    # unprivileged user cannot enter when the tests run as root (README: "Running as root").
    path = Path("/tmp") / f"oee-e2e-{uuid.uuid4().hex[:12]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)
    path.with_suffix(".log").unlink(missing_ok=True)


@contextlib.contextmanager
def oee_up(
    data_dir: Path, port: int, extra: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`oee up` with no server URLs in its environment; stopped on the way out if a test failed."""
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    path = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(REPO)]))
    env |= {"PORT": str(port), "OEE_DATA_DIR": str(data_dir), "PYTHONPATH": path}
    env |= extra or {}
    with open(data_dir.with_suffix(".log"), "ab") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "oee", "up"], cwd="/tmp", env=env, stdout=log, stderr=log
        )
    try:
        yield up
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()


def output(data_dir: Path) -> str:
    return data_dir.with_suffix(".log").read_text(errors="replace")


def wait_until_healthy(up: subprocess.Popen[bytes], data_dir: Path, port: int) -> None:
    def healthy() -> None:
        assert up.poll() is None, f"oee up exited with {up.returncode}:\n{output(data_dir)}"
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.TransportError as exc:
            raise NotHealthyYetError(str(exc)) from exc
        if response.status_code != 200:
            raise NotHealthyYetError(response.text)
        assert response.json()["status"] == "healthy"
        if f"oee is up: http://127.0.0.1:{port}" not in output(data_dir):
            raise NotHealthyYetError("healthy, but oee up has not said so yet")

    retrying = Retrying(
        stop=stop_after_delay(30),
        wait=wait_fixed(0.1),
        retry=retry_if_exception_type(NotHealthyYetError),
        reraise=True,
    )
    retrying(healthy)


def process_tree(root: int) -> set[Process]:
    """`root` and every process descended from it, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := read_stat(int(entry.name))) is not None:
            children.setdefault(found[1], []).append(int(entry.name))
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if (found := read_stat(pid)) is not None:
            tree.add((pid, found[2]))
            todo += children.get(pid, [])
    return tree


def read_stat(pid: int) -> tuple[str, int, str] | None:
    """State, parent pid and start time of `pid`, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1]), fields[19]


def still_running(processes: set[Process]) -> list[int]:
    """Those still running (a zombie has exited: this container's init does not reap orphans)."""
    return [
        pid
        for pid, started in processes
        if (found := read_stat(pid)) is not None and found[2] == started and found[0] != "Z"
    ]


def server_urls(data_dir: Path) -> tuple[str, str]:
    state = json.loads((data_dir / "servers.json").read_text())
    for url in (state["redis_url"], state["database_url"]):
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1"
        assert parts.port not in MACHINE_PORTS
    return state["redis_url"], state["database_url"]


def stop_with_ctrl_c(up: subprocess.Popen[bytes], data_dir: Path) -> int:
    up.send_signal(signal.SIGINT)
    try:
        return up.wait(timeout=60)
    except subprocess.TimeoutExpired:
        up.kill()
        raise AssertionError(f"oee up did not stop after SIGINT:\n{output(data_dir)}") from None


def test_oee_up_serves_stops_cleanly_and_keeps_its_data(data_dir: Path) -> None:
    port = free_port()
    with oee_up(data_dir, port) as first:
        wait_until_healthy(first, data_dir, port)
        redis_url, database_url = server_urls(data_dir)
        with redis.Redis.from_url(redis_url) as client:
            client.set("e2e:first-run", "kept")
        with psycopg.connect(database_url) as conn:
            conn.execute("CREATE TABLE e2e_first_run AS SELECT 'kept' AS value")
        started = process_tree(first.pid)
        assert len(started) >= 6  # oee up, api, process, project, valkey, postgres and workers

        assert stop_with_ctrl_c(first, data_dir) == 0, output(data_dir)
    assert still_running(started) == [], output(data_dir)

    with oee_up(data_dir, port) as second:
        wait_until_healthy(second, data_dir, port)
        redis_url, database_url = server_urls(data_dir)
        with redis.Redis.from_url(redis_url) as client:
            assert client.get("e2e:first-run") == b"kept"
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT value FROM e2e_first_run").fetchall() == [("kept",)]
        started = process_tree(second.pid)

        assert stop_with_ctrl_c(second, data_dir) == 0, output(data_dir)
    assert still_running(started) == [], output(data_dir)


def test_a_child_that_dies_stops_everything_with_a_non_zero_exit(data_dir: Path) -> None:
    port = free_port()
    with oee_up(data_dir, port) as up:
        wait_until_healthy(up, data_dir, port)
        started = process_tree(up.pid)
        api = [pid for pid, _ in started if command_line(pid)[-2:] == [b"oee", b"api"]]
        assert len(api) == 1

        os.kill(api[0], signal.SIGKILL)

        assert up.wait(timeout=60) != 0
    assert "oee api" in output(data_dir)
    assert still_running(started) == [], output(data_dir)


def command_line(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")


SLOW_SWAPS = {"OEE_VENUE_SWAP_LATENCY_MIN_MS": "8000", "OEE_VENUE_SWAP_LATENCY_MAX_MS": "9000"}
TERMINAL_EVENTS = {b"OrderConfirmed", b"OrderFailed", b"OrderCancelled", b"OrderExpired"}


def test_a_sigkilled_oee_up_leaves_nothing_and_the_next_start_ends_its_order_once(
    data_dir: Path,
) -> None:
    port = free_port()
    with oee_up(data_dir, port, SLOW_SWAPS) as first:
        wait_until_healthy(first, data_dir, port)
        redis_url, _ = server_urls(data_dir)
        order = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25"}
        base = f"http://127.0.0.1:{port}"
        order_id = httpx.post(f"{base}/api/orders/execute", json=order, timeout=10).json()[
            "orderId"
        ]
        with redis.Redis.from_url(redis_url) as client:
            for attempt in Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.1), reraise=True):
                with attempt:
                    assert b"TransactionSubmitted" in event_types(client, order_id)
        started = process_tree(first.pid)

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        for attempt in Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.1), reraise=True):
            with attempt:
                assert still_running(started) == [], output(data_dir)

    with oee_up(data_dir, port, SLOW_SWAPS) as second:
        wait_until_healthy(second, data_dir, port)
        redis_url, _ = server_urls(data_dir)
        with redis.Redis.from_url(redis_url) as client:
            for attempt in Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.2), reraise=True):
                with attempt:
                    assert TERMINAL_EVENTS & set(event_types(client, order_id))
            kinds = event_types(client, order_id)
        assert sum(kind in TERMINAL_EVENTS for kind in kinds) == 1, kinds
        assert stop_with_ctrl_c(second, data_dir) == 0, output(data_dir)


def event_types(client: redis.Redis, order_id: str) -> list[bytes]:
    """The types of `order_id`'s events, in log order."""
    entries: Any = client.xrange("oee:events")
    return [fields[b"type"] for _, fields in entries if fields[b"order_id"] == order_id.encode()]
