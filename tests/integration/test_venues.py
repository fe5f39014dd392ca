"""The simulated market in Redis: seeding, atomic idempotent swaps, failure scripts, drift."""

from __future__ import annotations

import dataclasses
import random
import uuid
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from eventlog.keys import Keys
from eventlog.settings import Settings
from processors.errors import ErrorCode, ExecutionError
from processors.initial_market import METEORA, RAYDIUM, initial_pools
from processors.market import Market
from processors.pools import to_units
from processors.route_choice import RouteChoice, choose_route, pools_for
from processors.route_fills import PlannedLeg, RouteFill, plan_from_quote
from processors.transactions import transaction_hash
from processors.venues import Venues
from tests.support.failure_scripts import FailureScript
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too


async def _seeded(redis: aioredis.Redis, keys: Keys, settings: Settings) -> Market:
    market = Market(redis, keys, settings)
    await market.seed()
    return market


async def _swap(
    market: Market,
    route: RouteFill,
    *,
    min_out: int = 0,
    order_id: uuid.UUID | None = None,
    attempt: int = 1,
) -> dict[str, Any]:
    order = order_id or uuid.uuid4()
    kind, legs = plan_from_quote(route.to_quote())
    return await market.swap(
        order, attempt, kind, legs, min_out, transaction_hash(order, attempt), None
    )


async def test_seeding_creates_every_pool_once_and_never_resets_a_traded_market(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    market = Market(redis, keys, settings)
    assert await market.seed() == len(market.all_pool_ids())
    pool = await market.pool(RAYDIUM, "SOL/USDC")
    assert pool is not None
    choice = choose_route({(RAYDIUM, "SOL/USDC"): pool}, "SOL", "USDC", 10**10)
    assert isinstance(choice, RouteChoice)
    await _swap(market, choice.chosen)
    traded = await market.pool(RAYDIUM, "SOL/USDC")
    assert await Market(redis, keys, settings).seed() == 0  # a second processor starting
    assert await market.pool(RAYDIUM, "SOL/USDC") == traded != pool


async def test_a_quote_is_exactly_what_the_swap_gives_when_the_pools_did_not_move(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    market = await _seeded(redis, keys, settings)
    rng = random.Random(11)
    tokens = ["SOL", "USDC", "USDT", "BONK", "JUP", "RAY"]
    usd = {"SOL": 150, "USDC": 1, "USDT": 1, "BONK": 0.000021, "JUP": 0.8, "RAY": 2.4}
    kinds = set()
    for _ in range(60):
        token_in, token_out = rng.sample(tokens, 2)
        dollars = rng.choice([5, 500, 50_000, 400_000])
        amount = to_units(Decimal(str(round(dollars / usd[token_in], 4))), token_in)
        pools = await market.pools(pools_for(token_in, token_out))
        choice = choose_route(pools, token_in, token_out, amount)
        assert isinstance(choice, RouteChoice), (token_in, token_out, dollars, choice)
        result = await _swap(market, choice.chosen, min_out=choice.chosen.amount_out)
        assert result["status"] == "filled", (token_in, token_out, dollars, result)
        assert int(result["amount_out"]) == choice.chosen.amount_out
        kinds.add(choice.chosen.kind)
    assert kinds == {"direct", "split", "two-hop"}


async def test_a_resubmission_returns_the_first_result_and_moves_the_pool_once(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    market = await _seeded(redis, keys, settings)
    before = await market.pool(RAYDIUM, "SOL/USDC")
    assert before is not None
    choice = choose_route({(RAYDIUM, "SOL/USDC"): before}, "SOL", "USDC", 5 * 10**9)
    assert isinstance(choice, RouteChoice)
    order_id = uuid.uuid4()
    first = await _swap(market, choice.chosen, order_id=order_id)
    again = await _swap(market, choice.chosen, order_id=order_id)
    later_attempt = await _swap(market, choice.chosen, order_id=order_id, attempt=2)
    assert first == again == later_attempt  # the order filled once, whatever asks again
    after = await market.pool(RAYDIUM, "SOL/USDC")
    assert after is not None
    assert after.reserve_a - before.reserve_a == 5 * 10**9
    assert before.reserve_b - after.reserve_b == int(first["amount_out"])


async def test_a_swap_below_min_amount_out_fails_and_leaves_the_pool_alone(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    market = await _seeded(redis, keys, settings)
    before = await market.pool(RAYDIUM, "SOL/USDC")
    assert before is not None
    choice = choose_route({(RAYDIUM, "SOL/USDC"): before}, "SOL", "USDC", 10**9)
    assert isinstance(choice, RouteChoice)
    result = await _swap(market, choice.chosen, min_out=choice.chosen.amount_out + 1)
    assert result["status"] == "failed"
    assert result["code"] == ErrorCode.SLIPPAGE_EXCEEDED
    assert await market.pool(RAYDIUM, "SOL/USDC") == before


async def test_failure_scripts_fail_attempts_in_order_across_processes(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    market = await _seeded(redis, keys, settings)
    venues = Venues(market, settings)
    script = FailureScript(redis, keys)
    special = uuid.uuid4()
    await script.fail_next(ErrorCode.TX_FAILED_TO_LAND, ErrorCode.RPC_TIMEOUT)
    await script.fail_always(ErrorCode.INSUFFICIENT_LIQUIDITY, order_id=special)
    legs = (PlannedLeg(RAYDIUM, "SOL/USDC", "SOL", 10**8),)

    async def outcome(order_id: uuid.UUID, attempt: int) -> str:
        try:
            await venues.submit(order_id, attempt, "direct", legs, 0, "tx")
        except ExecutionError as exc:
            return exc.code
        return "filled"

    assert await outcome(special, 1) == ErrorCode.INSUFFICIENT_LIQUIDITY
    assert await outcome(special, 2) == ErrorCode.INSUFFICIENT_LIQUIDITY  # per order, always
    order_id = uuid.uuid4()
    assert [await outcome(order_id, n) for n in (1, 2)] == [
        ErrorCode.TX_FAILED_TO_LAND,
        ErrorCode.RPC_TIMEOUT,
    ]
    assert await outcome(order_id, 1) == ErrorCode.TX_FAILED_TO_LAND  # re-sent: the same answer
    assert await outcome(order_id, 3) == "filled"
    assert await outcome(order_id, 1) == "filled"  # once filled, every submission sees the fill
    assert await script.remaining() == []


async def test_random_transient_failures_follow_the_seed(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = make_settings(venue_failure_rate=0.3, venue_seed=99)
    market = await _seeded(redis, keys, settings)
    legs = (PlannedLeg(METEORA, "SOL/USDC", "SOL", 10**6),)
    orders = [uuid.UUID(int=n) for n in range(200)]

    async def failed_orders(venues: Venues, attempt: int) -> set[uuid.UUID]:
        failed = set()
        for order_id in orders:
            try:
                await venues.submit(order_id, attempt, "direct", legs, 0, "tx")
            except ExecutionError as exc:
                failed.add(order_id)
                codes.add(exc.code)
        return failed

    codes: set[str] = set()

    first = await failed_orders(Venues(market, settings), 1)
    assert 40 <= len(first) <= 80  # about 30 %
    assert await failed_orders(Venues(market, settings), 1) == first  # a second process agrees
    assert await failed_orders(Venues(market, settings), 2) != first  # a new attempt, a new draw
    assert codes == {ErrorCode.TX_FAILED_TO_LAND, ErrorCode.RPC_TIMEOUT}  # transient ones only


async def test_prices_drift_reproducibly_and_the_venues_stay_a_few_percent_apart(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    day_long_steps = {"venue_drift_bps": 20, "venue_drift_interval_ms": 10**9}
    runs = {
        "same seed": (
            dataclasses.replace(keys, prefix=f"{keys.prefix}a"),
            make_settings(venue_seed=5, **day_long_steps),
        ),
        "same seed again": (
            dataclasses.replace(keys, prefix=f"{keys.prefix}b"),
            make_settings(venue_seed=5, **day_long_steps),
        ),
        "another seed": (
            dataclasses.replace(keys, prefix=f"{keys.prefix}c"),
            make_settings(venue_seed=6, **day_long_steps),
        ),
    }
    prices: dict[str, dict[tuple[str, str], Decimal]] = {}
    try:
        for name, (run_keys, settings) in runs.items():
            market = Market(redis, run_keys, settings)
            await market.seed()
            await market.drift()  # the first call starts the clock
            epoch = await redis.hget(run_keys.venue_state, "epoch")
            assert epoch is not None
            await redis.hset(run_keys.venue_state, "epoch", int(epoch) - 250)
            assert await market.drift() == 250  # as if the market had run 250 steps
            prices[name] = {(p.venue, p.pair): p.price for p in await market.all_pools()}
    finally:
        for run_keys, _ in runs.values():
            async for key in redis.scan_iter(match=run_keys.all()):
                await redis.unlink(key)
    assert prices["same seed"] == prices["same seed again"]
    assert prices["same seed"] != prices["another seed"]
    start = {(p.venue, p.pair): p.price for p in initial_pools(5)}
    moved = prices["same seed"]
    assert all(moved[pool] != start[pool] for pool in start)
    for venue, pair in start:
        assert abs(moved[(venue, pair)] / start[(venue, pair)] - 1) < Decimal("0.08")
    gap = abs(moved[(RAYDIUM, "SOL/USDC")] / moved[(METEORA, "SOL/USDC")] - 1)
    assert gap < Decimal("0.08")
