"""The HTTP load any implementation of this API can take, for side-by-side figures: against
`--url` (another deployment, or another implementation of the same paths and envelopes), or,
without it, against an `oee api` with a processor and a projector of its own. It places
--orders orders one by one (their ids are what the GETs read), then runs at saturation
(64 connections, --seconds each): POST /api/orders/execute, GET /api/orders/{id} over those
orders, GET /health; and the machine's ceilings in the same run, under the same load generator
(`bench.ceiling_app`): a bare Starlette GET of a fixed body for the GETs, and a bare Starlette
POST that validates a placement's body and does one XADD for the POST."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from bench.api_process import part_process, wait_healthy
from bench.ceiling_server import ceiling_server
from bench.health import CONNECTIONS
from bench.http_load import LoadResult, closed_loop, get, post_json, run_load
from bench.load_timeline import timeline
from bench.percentile import percentile
from bench.scope import HOST, bench_scope
from eventlog.settings import Settings

ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": 0.01}
GET_CEILING, POST_CEILING = "ceiling_fixed_get", "ceiling_validated_post_xadd"
# Each ceiling's figure name and the request that loads it.
CEILINGS = {
    GET_CEILING: get(HOST, "/fixed"),
    POST_CEILING: post_json(HOST, "/place", orjson.dumps(ORDER)),
}


def _figures(result: LoadResult, ceiling: float | None) -> dict[str, Any]:
    """Successful answers (any 2xx: implementations may accept an order with 200 or 202) per
    second, latency, and every other status with its count."""
    ok = sum(n for status, n in result.statuses.items() if 200 <= status < 300)
    per_second = ok / result.elapsed_s
    figures: dict[str, Any] = {
        "per_s": round(per_second),
        "p50_ms": round(percentile(result.latencies_ms, 0.50), 2),
        "p99_ms": round(percentile(result.latencies_ms, 0.99), 2),
        "other_statuses": {str(k): v for k, v in result.statuses.items() if not 200 <= k < 300},
    }
    if ceiling:
        figures["of_ceiling"] = round(per_second / ceiling, 3)
    figures["timeline"] = timeline(result)
    return figures


def _always(request: bytes) -> Callable[[int], bytes]:
    return lambda n: request


def _load(host: str, port: int, make: Callable[[int], bytes], seconds: float) -> LoadResult:
    return run_load(closed_loop(host, port, make, connections=CONNECTIONS, seconds=seconds))


@contextlib.contextmanager
def _own_engine(settings: Settings) -> Iterator[str]:
    with (
        bench_scope(settings) as scope,
        part_process("api", scope),
        part_process("process", scope),
        part_process("project", scope),
    ):
        wait_healthy(scope.settings.port)
        yield f"http://{HOST}:{scope.settings.port}"


def _run(url: str, orders: int, seconds: float, ceilings: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or HOST, parts.port or 80
    with httpx.Client(base_url=url, timeout=10) as client:
        ids = [
            client.post("/api/orders/execute", json=ORDER).json()["orderId"] for _ in range(orders)
        ]
    rng = random.Random(3)
    reads = [get(host, f"/api/orders/{rng.choice(ids)}") for _ in range(10_000)]
    place = post_json(host, "/api/orders/execute", orjson.dumps(ORDER))
    health = get(host, "/health")
    get_ceiling, post_ceiling = ceilings[GET_CEILING]["per_s"], ceilings[POST_CEILING]["per_s"]
    return {
        "url": url,
        "get_order": _figures(
            _load(host, port, lambda n: reads[n % len(reads)], seconds), get_ceiling
        ),
        "health": _figures(_load(host, port, _always(health), seconds), get_ceiling),
        "post_order": _figures(_load(host, port, _always(place), seconds), post_ceiling),
    }


def _ceilings(settings: Settings, seconds: float) -> dict[str, Any]:
    with ceiling_server(settings) as port:
        return {
            name: _figures(_load(HOST, port, _always(request), seconds), None)
            for name, request in CEILINGS.items()
        }


def bench_side_by_side(
    settings: Settings, url: str | None, orders: int, seconds: float
) -> dict[str, Any]:
    ceilings = _ceilings(settings, seconds)
    if url is not None:
        figures = _run(url.rstrip("/"), orders, seconds, ceilings)
    else:
        with _own_engine(settings) as own:
            figures = _run(own, orders, seconds, ceilings)
    return {**ceilings, **figures}
