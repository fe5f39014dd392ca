"""Venue prices: processors publish every pool's spot price to Redis as prices drift, and
`GET /api/venues/prices` serves them grouped by pair (an empty board when none is published)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import orjson
import redis.asyncio as aioredis

from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.wiring import execution_processor
from processors.initial_market import METEORA, RAYDIUM
from processors.market import Market
from processors.price_publisher import publish_venue_prices
from tests.support.polling import eventually
from tests.support.settings import MakeSettings


async def test_the_snapshot_holds_every_pool_at_its_spot_price_and_expires(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    market = Market(redis, keys, settings)
    await market.seed()
    await publish_venue_prices(market, redis, keys, settings)

    raw = await _snapshot(redis, keys)
    assert raw is not None
    snapshot = orjson.loads(raw)
    pools = {(p.venue, p.pair): p for p in await market.all_pools()}
    assert {(e["venue"], e["pair"]) for e in snapshot["prices"]} == set(pools)
    for entry in snapshot["prices"]:
        spot = pools[(entry["venue"], entry["pair"])].price
        assert abs(Decimal(entry["price"]) - spot) <= spot * Decimal("1e-9")
    assert 0 < await redis.ttl(keys.venue_prices) <= settings.health_ttl_seconds


async def test_a_running_processor_publishes_prices_that_follow_the_drift(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = make_settings(venue_drift_interval_ms=20)
    processor = execution_processor(redis, settings, name="prices")
    stop = asyncio.Event()
    running = asyncio.create_task(processor.run(stop))
    try:
        first = await eventually(lambda: _snapshot(redis, keys), what="a price snapshot")
        moved = await eventually(
            lambda: _changed(redis, keys, first), what="a newer snapshot after drift"
        )
        assert orjson.loads(moved)["updatedAt"] >= orjson.loads(first)["updatedAt"]
    finally:
        stop.set()
        await running


async def _snapshot(redis: aioredis.Redis, keys: Keys) -> bytes | None:
    """The published price snapshot, if any (the test client answers bytes, not str)."""
    raw = await redis.get(keys.venue_prices)
    assert raw is None or isinstance(raw, bytes)
    return raw


async def _changed(redis: aioredis.Redis, keys: Keys, before: bytes) -> bytes | None:
    now = await _snapshot(redis, keys)
    return now if now and orjson.loads(now)["prices"] != orjson.loads(before)["prices"] else None


async def test_the_api_serves_an_empty_board_before_any_processor_publishes(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/api/venues/prices")
    assert response.status_code == 200
    assert response.json() == {"success": True, "updatedAt": None, "ageSeconds": None, "pairs": []}


async def test_the_api_groups_published_prices_by_pair(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    market = Market(redis, keys, settings)
    await market.seed()
    await publish_venue_prices(market, redis, keys, settings)

    body = (await api.get("/api/venues/prices")).json()
    assert body["success"] is True
    assert body["ageSeconds"] >= 0
    pairs = {p["pair"]: p["venues"] for p in body["pairs"]}
    assert [v["venue"] for v in pairs["SOL/USDC"]] == [METEORA, RAYDIUM]
    assert [v["venue"] for v in pairs["SOL/RAY"]] == [RAYDIUM]
    sol_usdc = {v["venue"]: Decimal(v["price"]) for v in pairs["SOL/USDC"]}
    assert all(Decimal(100) < price < Decimal(200) for price in sol_usdc.values())
    assert {v["kind"] for v in pairs["SOL/USDC"]} == {"constant-product", "concentrated"}
    assert Decimal(pairs["SOL/USDC"][1]["feeRate"]) == Decimal("0.0025")
