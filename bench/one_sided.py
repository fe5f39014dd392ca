"""The one-sided market benchmark: every order sells SOL for USDC, as fast as one processor takes
them, with the venues' market steps (reference walk, arbitrage, drift) at their settings. Figures:
the orders' outcomes by error code, and how far Raydium's and Meteora's SOL/USDC prices strayed
from the start. Run with and without arbitrage (`venue_arbitrage_share` 0), in a key prefix of
its own each (removed after)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import orjson

from bench.execution import start_processor, stop_and_clean, wait_until_ready
from bench.scope import execution_run
from eventlog.append import AppendRequest, EventAppender
from eventlog.connections import redis_client
from eventlog.keys import Keys
from eventlog.settings import Settings
from processors.initial_market import METEORA, RAYDIUM
from processors.market import Market
from schema.events import OrderPlaced, new_event

ORDERS = 45_000
TERMINAL = {b"OrderConfirmed", b"OrderFailed"}


async def bench_one_sided(settings: Settings, orders: int, share: float) -> dict[str, Any]:
    run = execution_run(settings, venue_arbitrage_share=share)
    keys = run.log_keys()
    redis = redis_client(run)
    market = Market(redis, keys, run)
    await market.seed()
    start = {venue: await _price(market, venue) for venue in (RAYDIUM, METEORA)}
    process = start_processor(run, "bench-one-sided")
    try:
        await wait_until_ready(redis, keys, ["bench-one-sided"], [process])
        began = time.perf_counter()
        await _place(EventAppender(redis, keys), orders)
        outcomes, extremes = await _follow(redis, keys, market, orders)
        seconds = time.perf_counter() - began
    finally:
        await stop_and_clean([process], redis, run.key_prefix)
    return {
        "orders": orders,
        "arbitrage_share": share,
        "orders_per_second": round(orders / seconds, 1),
        "outcomes": dict(outcomes.most_common()),
        **{
            f"{venue}_sol_price_low_vs_start": round(float(extremes[venue] / start[venue]), 3)
            for venue in start
        },
    }


async def _price(market: Market, venue: str) -> Decimal:
    pool = await market.pool(venue, "SOL/USDC")
    assert pool is not None
    return pool.price


async def _place(appender: EventAppender, count: int) -> None:
    for first in range(0, count, 2_000):
        batch = [
            AppendRequest(
                [
                    new_event(
                        OrderPlaced(
                            order_type="market",
                            token_in="SOL",
                            token_out="USDC",
                            amount_in=Decimal(1),
                            slippage=Decimal("0.05"),
                        ),
                        order_id=uuid.uuid4(),
                        sequence=1,
                    )
                ],
                0,
            )
            for _ in range(min(2_000, count - first))
        ]
        await appender.append_many(batch)


async def _follow(
    redis: Any, keys: Keys, market: Market, count: int
) -> tuple[Counter[str], dict[str, Decimal]]:
    """Read the log until `count` orders ended: their outcomes, and each venue's lowest SOL
    price seen meanwhile (read every 2,000 entries)."""
    outcomes: Counter[str] = Counter()
    lowest = {venue: await _price(market, venue) for venue in (RAYDIUM, METEORA)}
    position = "0-0"
    deadline = time.monotonic() + max(120.0, count / 50)
    while sum(outcomes.values()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sum(outcomes.values())} of {count} orders ended in time")
        reply: Any = await redis.xread({keys.events: position}, count=2_000, block=1_000)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                position = entry_id
                if fields[b"type"] == b"OrderConfirmed":
                    outcomes["confirmed"] += 1
                elif fields[b"type"] == b"OrderFailed":
                    outcomes[orjson.loads(fields[b"data"])["payload"]["error_code"]] += 1
        for venue in lowest:
            lowest[venue] = min(lowest[venue], await _price(market, venue))
    return outcomes, lowest


def bench_one_sided_suite(settings: Settings, orders: int = ORDERS) -> dict[str, Any]:
    """The `oee bench market` suite: the same one-sided flow with arbitrage and without."""
    return {
        "with_arbitrage": asyncio.run(
            bench_one_sided(settings, orders, settings.venue_arbitrage_share or 0.3)
        ),
        "without_arbitrage": asyncio.run(bench_one_sided(settings, orders, 0.0)),
    }
