"""`oee api --workers N`: several API processes on one port, supervised by one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from bench.process_readings import free_port
from eventlog.settings import Settings
from tests.support.running_engine import wait_healthy

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5"}


def _workers(parent: int) -> list[int]:
    return [child.pid for child in psutil.Process(parent).children()]


def _until(condition: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s")
        time.sleep(0.05)  # deliberate: polling other processes, with a deadline


@pytest.fixture
def api_workers(migrated: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, **migrated.to_environ(), "PORT": str(port), "PYTHONPATH": str(ROOT)}
    api = subprocess.Popen([sys.executable, "-m", "oee", "api", "--workers", "2"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, api)
        _until(lambda: len(_workers(api.pid)) == 2, 30, "two workers")
        yield api, url
    finally:
        if api.poll() is None:
            api.kill()
            for pid in _workers(api.pid) if api.poll() is None else []:
                os.kill(pid, signal.SIGKILL)
        api.wait(timeout=30)


def _run_to_the_end(settings: Settings, **env: str) -> subprocess.CompletedProcess[bytes]:
    """`oee api --workers 2` with `env` over the settings' environment, until it exits."""
    return subprocess.run(
        [sys.executable, "-m", "oee", "api", "--workers", "2"],
        env={**os.environ, **settings.to_environ(), "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        timeout=60,
        check=False,
    )


def _connections_held(pid: int, port: int) -> int:
    return sum(
        1
        for conn in psutil.Process(pid).net_connections()
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


def test_workers_share_the_port_and_each_reads_what_another_accepted(
    api_workers: tuple[subprocess.Popen[bytes], str],
) -> None:
    api, url = api_workers
    port = int(url.rsplit(":", 1)[1])
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
    try:

        def held() -> dict[int, int]:
            return {pid: _connections_held(pid, port) for pid in _workers(api.pid)}

        _until(lambda: sum(held().values()) == len(clients), 10, "every connection accepted")
        counts = held()
        assert all(count > 0 for count in counts.values()), counts  # spread over both workers
    finally:
        for sock in clients:
            sock.close()
    for _ in range(20):  # a new connection each time: any worker may take either request
        with httpx.Client(base_url=url, timeout=10) as placing:
            placed = placing.post("/api/orders/execute", json=ORDER)
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["orderId"]
        with httpx.Client(base_url=url, timeout=10) as reading:
            read = reading.get(f"/api/orders/{order_id}")
        assert read.status_code == 200, read.text  # read-your-writes, whichever worker answers
        assert read.json()["order"]["id"] == order_id


def test_a_port_already_served_is_refused_not_shared(
    api_workers: tuple[subprocess.Popen[bytes], str], migrated: Settings
) -> None:
    _, url = api_workers
    port = url.rsplit(":", 1)[1]
    second = _run_to_the_end(migrated, PORT=port)
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr.decode()


def test_a_killed_worker_is_replaced_and_sigterm_stops_them_all(
    api_workers: tuple[subprocess.Popen[bytes], str],
) -> None:
    api, url = api_workers
    first, second = _workers(api.pid)
    os.kill(first, signal.SIGKILL)
    _until(
        lambda: len(_workers(api.pid)) == 2 and first not in _workers(api.pid),
        30,
        "a replacement worker",
    )
    assert second in _workers(api.pid)  # the other worker kept serving
    wait_healthy(url, api)
    workers = _workers(api.pid)
    api.send_signal(signal.SIGTERM)
    assert api.wait(timeout=30) == 0
    assert not any(psutil.pid_exists(pid) for pid in workers)  # each waited for, none left


def test_workers_that_cannot_start_stop_the_supervisor_with_exit_1(migrated: Settings) -> None:
    # A URL the settings accept and the Redis client refuses: every worker's start fails.
    ended = _run_to_the_end(migrated, PORT=str(free_port()), REDIS_URL="unknown://127.0.0.1:1")
    assert ended.returncode == 1
    assert "API workers keep exiting at start" in ended.stderr.decode()
