"""The short chaos run (`python -m bench.chaos --short`): under a steady load with transient venue
failures a processor, the projector and the API are killed with SIGKILL and restarted, and Redis
is killed and started again on its append-only file; no accepted order is lost or filled twice,
every fault is recovered from, and a replay rebuilds what live projection built. The run leaves no
schema and no server behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psycopg
import pytest
import redis

from bench.scope import scope_tag_prefix
from eventlog.settings import Settings


def _schemas(settings: Settings) -> set[str]:
    with psycopg.connect(settings.require_database_url()) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
            [scope_tag_prefix(settings)],
        ).fetchall()
    return {row[0] for row in rows}


def test_a_short_chaos_run_loses_nothing_fills_nothing_twice_and_replays_equal(
    settings: Settings,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": settings.require_database_url(),
        "OEE_KEY_PREFIX": settings.key_prefix,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--short", "--json"],
        env=env,
        capture_output=True,
        timeout=240,
    )
    assert done.stdout, done.stderr.decode()[-3000:]
    report = json.loads(done.stdout)
    assert report["failures"] == [], report
    assert done.returncode == 0

    assert report["ordersAccepted"] >= 500
    assert report["retriedPlacements"] > 0, "no placement met a fault: the faults meant nothing"
    assert report["lost"] == 0
    assert report["filledTwice"] == 0
    assert report["endedTwice"] == report["unended"] == report["unasked"] == 0
    assert set(report["outcomes"]) <= {"OrderConfirmed", "OrderFailed"}
    assert report["outcomes"].get("OrderFailed", 0) < report["ordersAccepted"] * 0.1
    assert set(report["pending"].values()) == {0}
    assert report["readModelDisagreements"] == 0
    assert [f["kind"] for f in report["faults"]] == [
        "kill_processor",
        "kill_projector",
        "kill_api",
        "restart_redis",
    ]
    assert all(f["recovered"] for f in report["faults"])
    assert report["partsExitedByThemselves"] == {}
    # A clean stop on SIGTERM; uvicorn, once shut down, raises the signal it caught again.
    codes = report["partsStopCodes"]
    assert codes == {"api": -signal.SIGTERM, "processor-a": 0, "processor-b": 0, "projector": 0}
    assert report["replayEqual"] is True

    assert _schemas(settings) == set()
    stopped = redis.Redis.from_url(report["redisUrl"], socket_connect_timeout=1)
    try:
        with pytest.raises(redis.ConnectionError):  # the run's Redis server is gone
            stopped.ping()
    finally:
        stopped.close()
