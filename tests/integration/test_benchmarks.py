"""The HTTP benchmark programs run end to end against a real `oee api` process, every request
they send is answered as expected, and they leave no schema and no Redis key behind. (Their
figures are for the README, not for assertions: speed is never tested here.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import redis

from bench.placement import bench_api
from bench.query import bench_query
from eventlog.settings import Settings


def _leftovers(settings: Settings) -> tuple[set[str], set[bytes]]:
    with psycopg.connect(settings.require_database_url()) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'"
        ).fetchall()
    client = redis.Redis.from_url(settings.require_redis_url())
    try:
        keys = set(client.scan_iter(match="bench_*", count=1_000))
    finally:
        client.close()
    return {row[0] for row in rows}, keys


def _run_leaving_nothing(settings: Settings, bench: Callable[[], dict[str, Any]]) -> Any:
    schemas, keys = _leftovers(settings)
    figures = bench()
    after_schemas, after_keys = _leftovers(settings)
    assert after_schemas <= schemas
    assert after_keys <= keys
    return figures


def test_the_query_benchmark_gets_every_order_it_asks_for(settings: Settings) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_query(settings, 40, seconds=0.3))
    assert figures["orders"] == 40
    assert figures["get_non_200"] == 0
    assert figures["get_order_per_s_saturation_32_conns"] > 0


def test_the_placement_benchmark_has_every_order_accepted(settings: Settings) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_api(settings, seconds=0.3))
    assert figures["accept_non_202"] == 0
    assert figures["accept_per_s_saturation_64_conns"] > 0
