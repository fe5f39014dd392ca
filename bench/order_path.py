"""Which product modules one market order runs code in, from its POST until a GET shows it
confirmed: the API (in this process, over ASGI), an execution processor and the projections,
driven to completion by draining, with venue latencies and failures off. A measure of the
structure, not of speed: `python -m bench.order_path` prints the count and the modules as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench.scope import bench_scope
from eventlog.connections import redis_client
from eventlog.settings import Settings
from oee.parts import drain_projections
from oee.wiring import api_app, execution_processor

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("schema", "eventlog", "commands", "processors", "projections", "api", "oee")
ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25"}


def _recorder(found: set[str]) -> Any:
    def record(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(ROOT) and path.relative_to(ROOT).parts[0] in PRODUCT:
                found.add(str(path.relative_to(ROOT)))

    return record


async def _order_path(settings: Settings) -> dict[str, Any]:
    redis = redis_client(settings)
    app = api_app(settings)
    found: set[str] = set()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http,
        ):
            processor = execution_processor(redis, settings, name="order-path")
            await processor.drain()  # groups and market in place before the window opens
            await drain_projections(settings)
            sys.setprofile(_recorder(found))
            try:
                order_id = (await http.post("/api/orders/execute", json=ORDER)).json()["orderId"]
                await processor.drain()
                await drain_projections(settings)
                status = (await http.get(f"/api/orders/{order_id}")).json()["order"]["status"]
            finally:
                sys.setprofile(None)
    finally:
        await redis.aclose()
    return {"status": status, "productModules": len(found), "modules": sorted(found)}


def main() -> None:
    base = Settings.from_env(
        venue_quote_latency_ms=0,
        venue_swap_latency_min_ms=0,
        venue_swap_latency_max_ms=0,
        venue_failure_rate=0,
        max_orders_per_minute=0,
    )
    with bench_scope(base) as scope:
        print(json.dumps(asyncio.run(_order_path(scope.settings)), indent=1))


if __name__ == "__main__":
    main()
