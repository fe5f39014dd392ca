"""Query benchmark: `GET /api/orders/{id}` against one `oee api` process over 5,000 projected
orders (sample histories with retries and failures): requests/s at saturation (closed loop, 32
keep-alive connections) with the server's CPU per request, and p50/p99 at an offered 1,000/s.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from bench.api_process import part_process, wait_healthy
from bench.http_load import closed_loop, get, open_loop, run_load
from bench.load_timeline import timeline
from bench.percentile import percentile
from bench.process_readings import cpu_seconds
from bench.sample_histories import write_histories
from bench.scope import BENCH_ADMIN_KEY, HOST, bench_scope, key_header, with_keys
from eventlog.settings import Settings
from oee.parts import drain_projections

ORDERS = 5_000
SECONDS = 5.0


async def _seed(settings: Settings, orders: int) -> list[str]:
    history = await write_histories(settings, orders, seed=31)
    await drain_projections(settings)
    return sorted({str(e.order_id) for e in history})


def bench_query(
    settings: Settings, orders: int = ORDERS, seconds: float = SECONDS, keys: bool = False
) -> dict[str, Any]:
    """With `keys`, API keys are on and every GET carries an operator's key (the sample orders
    have no owner a client's key could match)."""
    figures: dict[str, Any] = {"keys": keys}
    with bench_scope(with_keys(settings, keys)) as scope:
        port = scope.settings.port
        ids = asyncio.run(_seed(scope.settings, orders))
        rng = random.Random(5)
        headers = key_header(BENCH_ADMIN_KEY, keys)
        requests = [get(HOST, f"/api/orders/{rng.choice(ids)}", headers) for _ in range(100_000)]

        def request(n: int) -> bytes:
            return requests[n % len(requests)]

        with part_process("api", scope) as server:
            wait_healthy(port)
            # Warm up: prepared statements, pool connections.
            run_load(closed_loop(HOST, port, request, connections=16, seconds=min(1, seconds)))
            cpu_before = cpu_seconds(server.pid)
            saturated = run_load(closed_loop(HOST, port, request, connections=32, seconds=seconds))
            cpu = cpu_seconds(server.pid) - cpu_before
            offered = run_load(open_loop(HOST, port, request, rate=1_000, seconds=seconds))
    figures["orders"] = len(ids)
    figures["get_order_per_s_saturation_32_conns"] = round(saturated.per_second)
    # What one core of the API process serves: the load generator shares the machine's cores.
    figures["get_order_server_cpu_ms_per_request"] = round(cpu * 1000 / saturated.sent, 3)
    figures["get_order_p50_ms_at_1000_per_s"] = round(percentile(offered.latencies_ms, 0.50), 2)
    figures["get_order_p99_ms_at_1000_per_s"] = round(percentile(offered.latencies_ms, 0.99), 2)
    figures["get_non_200"] = sum(
        n for result in (saturated, offered) for code, n in result.statuses.items() if code != 200
    )
    figures["saturation_timeline"] = timeline(saturated)
    figures["at_1000_per_s_timeline"] = timeline(offered)
    return figures
