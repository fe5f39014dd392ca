"""Placement benchmark: orders accepted per second at saturation (64 connections, one `oee api`
process) and accept latency at an offered 1,000 orders/s. Limits are lifted; no processor runs, so
the figures are the command side's alone.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.api_process import part_process, wait_healthy
from bench.http_load import closed_loop, open_loop, post_json, run_load
from bench.load_timeline import timeline
from bench.percentile import percentile
from bench.scope import BENCH_CLIENT_KEY, HOST, bench_scope, key_header, with_keys
from eventlog.settings import Settings

SECONDS = 5.0
ORDER = orjson.dumps({"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"})


def bench_api(settings: Settings, seconds: float = SECONDS, keys: bool = False) -> dict[str, Any]:
    """With `keys`, API keys are on and every placement carries a client's key."""
    figures: dict[str, Any] = {"keys": keys}
    with bench_scope(with_keys(settings, keys)) as scope:
        port = scope.settings.port
        place = post_json(HOST, "/api/orders/execute", ORDER, key_header(BENCH_CLIENT_KEY, keys))
        with part_process("api", scope):
            wait_healthy(port)
            saturated = run_load(
                closed_loop(HOST, port, lambda n: place, connections=64, seconds=seconds)
            )
            figures["accept_per_s_saturation_64_conns"] = round(
                saturated.statuses.get(202, 0) / saturated.elapsed_s
            )
            offered = run_load(open_loop(HOST, port, lambda n: place, rate=1_000, seconds=seconds))
            figures["accept_p50_ms_at_1000_per_s"] = round(
                percentile(offered.latencies_ms, 0.50), 2
            )
            figures["accept_p99_ms_at_1000_per_s"] = round(
                percentile(offered.latencies_ms, 0.99), 2
            )
            figures["accept_non_202"] = sum(v for k, v in offered.statuses.items() if k != 202)
            figures["saturation_timeline"] = timeline(saturated)
            figures["at_1000_per_s_timeline"] = timeline(offered)
    return figures
