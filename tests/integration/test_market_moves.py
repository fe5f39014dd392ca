"""The market over time on real Redis: arbitrage pulls every pool back toward the reference price,
so a one-sided flow leaves the pools tradable; each step's moves are logged once, as MarketMoved
venue events."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

from eventlog.append import AppendRequest, EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_after
from oee.wiring import execution_processor
from processors.initial_market import RAYDIUM, constant_product
from processors.market import Market
from processors.market_moves import log_market_moves
from schema.events import MarketMoved, market_step_id
from tests.support.factories import order_placed
from tests.support.polling import eventually
from tests.support.processor_processes import timelines
from tests.support.settings import MakeSettings

SOL_USDC = "SOL/USDC"


async def _raydium_price(market: Market) -> Decimal:
    pool = await market.pool(RAYDIUM, SOL_USDC)
    assert pool is not None
    return pool.price


async def test_arbitrage_pulls_a_drained_pool_back_to_the_reference_price(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = make_settings(venue_drift_bps=0, venue_drift_interval_ms=10)
    market = Market(redis, keys, settings)
    await market.seed()
    await market.drift()  # the first call only starts the step clock
    drained = constant_product(RAYDIUM, SOL_USDC, Decimal(60_000), Decimal(6_000_000))  # 100
    await market.put(drained)
    k = drained.reserve_a * drained.reserve_b
    seen = [await _raydium_price(market)]

    async def back() -> bool:
        await market.drift()
        seen.append(await _raydium_price(market))
        return abs(seen[-1] - 150) < Decimal("0.5")  # the reference: SOL at 150 USDC

    await eventually(back, within=10, what="the pool back at the reference")
    assert seen == sorted(seen)  # straight back up, never past it
    pool = await market.pool(RAYDIUM, SOL_USDC)
    assert pool is not None
    assert abs(pool.reserve_a * pool.reserve_b - k) / k < 1e-6  # an arbitrage trade, not a gift


async def test_each_step_is_logged_once_as_a_market_moved_event(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = make_settings(venue_drift_bps=50, venue_drift_interval_ms=10)
    market = Market(redis, keys, settings)
    await market.seed()
    await market.drift()
    for _ in range(5):
        await eventually(market.drift, within=2, what="a market step")
    waiting = await redis.llen(keys.market_moves)
    assert waiting == 5
    # Two processors log the same records (one after the other's append, before its removal).
    records = await redis.lrange(keys.market_moves, 0, -1)
    assert await log_market_moves(redis, keys, EventAppender(redis, keys)) == 5
    await redis.rpush(keys.market_moves, *records)
    assert await log_market_moves(redis, keys, EventAppender(redis, keys)) == 5
    assert await redis.llen(keys.market_moves) == 0
    logged = [r.event for r in await read_after(redis, keys, "0")]
    assert [e.type for e in logged] == ["MarketMoved"] * 5
    epochs = [e.payload.epoch for e in logged if isinstance(e.payload, MarketMoved)]
    assert len(set(epochs)) == 5
    first = logged[0].payload
    assert isinstance(first, MarketMoved)
    assert {move.pair for move in first.pools} >= {SOL_USDC, "SOL/USDT"}
    assert all(move.price_before != move.price_after for move in first.pools)


async def _one_sided_flow(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings, share: float
) -> tuple[Counter[str], Decimal]:
    """300 orders selling 100 SOL each for USDC through a running processor; their outcomes,
    and Raydium's SOL price once they ended."""
    settings = make_settings(
        venue_drift_bps=0,
        venue_drift_interval_ms=20,
        venue_arbitrage_share=share,
        max_orders_per_minute=0,
        max_concurrent_orders=20,
        key_prefix=f"{keys.prefix}-{share}",
    )
    scoped = settings.log_keys()
    processor = execution_processor(redis, settings, name="p")
    await processor.prepare()
    stop = asyncio.Event()
    running = asyncio.create_task(processor.run(stop))
    events = [order_placed(amount_in=Decimal(100), slippage=Decimal("0.2")) for _ in range(300)]
    await EventAppender(redis, scoped).append_many([AppendRequest([e], 0) for e in events])
    ids = {str(e.order_id).encode() for e in events}
    terminal = {b"OrderConfirmed", b"OrderFailed"}

    async def ended() -> dict[bytes, Any]:
        found = {o: t for o, t in (await timelines(redis, scoped)).items() if o in ids}
        done = sum(1 for t in found.values() if t[-1][0] in terminal)
        return found if done == len(ids) else {}

    final = await eventually(ended, within=60, what="every order ended")
    stop.set()
    await running
    outcomes: Counter[str] = Counter()
    for timeline in final.values():
        kind, data = timeline[-1]
        outcomes[kind.decode() if kind == b"OrderConfirmed" else data.decode()] += 1
    price = await _raydium_price(processor.market)
    async for key in redis.scan_iter(match=scoped.all()):
        await redis.unlink(key)
    return outcomes, price


async def test_with_arbitrage_a_one_sided_flow_leaves_every_pool_tradable(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    outcomes, price = await _one_sided_flow(redis, keys, make_settings, 0.3)
    assert outcomes == Counter({"OrderConfirmed": 300})
    assert abs(price - 150) / 150 < Decimal("0.1")  # near the reference however much was sold
    _, drained = await _one_sided_flow(redis, keys, make_settings, 0.0)
    assert drained < price * Decimal("0.85")  # without arbitrage the same flow sinks the price


def test_market_step_ids_are_fixed_by_the_step() -> None:
    assert market_step_id(7) == market_step_id(7) != market_step_id(8)
    assert isinstance(market_step_id(7), uuid.UUID)
