"""Sniper orders and pool launches on real Redis: an order for a token not listed yet rests open
until a pool for its pair launches, then fills once, in the order the waiting orders were placed;
the launched pool trades like any other, and the launch is a logged event every process learns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from commands.order_intake import OrderIntake, PoolExistsError
from commands.place_order import CommandRejectedError
from eventlog.append import EventAppender
from eventlog.keys import Keys
from oee.wiring import execution_processor
from processors.execution_processor import ExecutionProcessor
from schema.events import OrderConfirmed
from schema.statuses import OrderStatus
from schema.tokens import TOKENS
from tests.support.polling import eventually
from tests.support.resting import drain_all, history_of, quiet_market, state_of
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too


@pytest.fixture
async def processor(redis: aioredis.Redis, make_settings: MakeSettings) -> ExecutionProcessor:
    built = execution_processor(redis, quiet_market(make_settings), name="p1")
    await built.prepare()
    return built


@pytest.fixture
def intake(redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings) -> OrderIntake:
    return OrderIntake(redis, EventAppender(redis, keys), keys, quiet_market(make_settings))


@pytest.fixture
def symbol() -> str:
    """A token no test has listed (the registry of a process only grows)."""
    return "T" + uuid.uuid4().hex[:7].upper()


def _sniper(symbol: str, amount: str = "1", **fields: Any) -> dict[str, Any]:
    return {
        "orderType": "sniper",
        "tokenIn": "SOL",
        "tokenOut": symbol,
        "amountIn": amount,
        **fields,
    }


def _launch(
    symbol: str, venue: str = "raydium", sol: str = "5000", **fields: Any
) -> dict[str, Any]:
    return {
        "venue": venue,
        "tokenA": "SOL",
        "tokenB": symbol,
        "reserveA": sol,
        "reserveB": "50000000",
        "decimalsB": 6,
        **fields,
    }


async def _place(intake: OrderIntake, body: dict[str, Any]) -> uuid.UUID:
    placed = await intake.place(body, client_id="alice", idempotency_key=None)
    return placed.order_id


async def test_a_sniper_order_rests_until_its_pool_launches_then_fills_once(
    redis: aioredis.Redis,
    keys: Keys,
    intake: OrderIntake,
    processor: ExecutionProcessor,
    symbol: str,
) -> None:
    order_id = await _place(intake, _sniper(symbol))
    await drain_all(processor)
    assert (await state_of(redis, keys, order_id)).status is OrderStatus.OPEN

    launched = await intake.launch(_launch(symbol))
    assert launched.listed
    assert launched.pair == f"SOL/{symbol}"
    await drain_all(processor)
    state = await state_of(redis, keys, order_id)
    assert state.status is OrderStatus.CONFIRMED
    assert state.amount_out is not None
    assert state.amount_out > 9_000  # 1 SOL into a pool pricing it at 10,000
    assert TOKENS[symbol].decimals == 6

    # A second pool for the token (on the other venue) does not fill it again.
    await intake.launch(_launch(symbol, venue="meteora"))
    await drain_all(processor)
    await processor.triggers.tick()
    await drain_all(processor)
    types = [e.type for e in await history_of(redis, keys, order_id)]
    assert types.count("OrderTriggered") == 1
    assert types.count("OrderConfirmed") == 1


async def test_orders_sharing_a_launch_fill_in_the_order_they_were_placed(
    redis: aioredis.Redis,
    keys: Keys,
    intake: OrderIntake,
    processor: ExecutionProcessor,
    symbol: str,
) -> None:
    orders = [await _place(intake, _sniper(symbol, "5", slippage="0.5")) for _ in range(6)]
    await drain_all(processor)
    await intake.launch(_launch(symbol, sol="500"))
    await drain_all(processor)
    fills = []
    for order_id in orders:
        history = await history_of(redis, keys, order_id)
        [confirmed] = [e.payload for e in history if isinstance(e.payload, OrderConfirmed)]
        fills.append(confirmed.amount_out)
    # Each buy moves the pool: whoever was placed first got the most.
    assert fills == sorted(fills, reverse=True)
    assert len(set(fills)) == len(fills)


async def test_min_liquidity_waits_for_a_pool_deep_enough(
    redis: aioredis.Redis,
    keys: Keys,
    intake: OrderIntake,
    processor: ExecutionProcessor,
    symbol: str,
) -> None:
    order_id = await _place(intake, _sniper(symbol, minLiquidity="2000"))
    await drain_all(processor)
    await intake.launch(_launch(symbol, sol="1000"))  # too shallow for it
    await drain_all(processor)
    assert (await state_of(redis, keys, order_id)).status is OrderStatus.OPEN
    await intake.launch(_launch(symbol, venue="meteora", sol="3000"))
    await drain_all(processor)
    state = await state_of(redis, keys, order_id)
    assert state.status is OrderStatus.CONFIRMED
    assert state.min_liquidity == Decimal(2000)


async def test_a_sniper_order_whose_pool_exists_fills_at_once(
    redis: aioredis.Redis, keys: Keys, intake: OrderIntake, processor: ExecutionProcessor
) -> None:
    order_id = await _place(intake, _sniper("USDC", "0.5"))
    await drain_all(processor)
    assert (await state_of(redis, keys, order_id)).status is OrderStatus.CONFIRMED


async def test_without_a_launch_a_sniper_order_expires(
    redis: aioredis.Redis,
    keys: Keys,
    intake: OrderIntake,
    processor: ExecutionProcessor,
    symbol: str,
) -> None:
    order_id = await _place(intake, _sniper(symbol, expiresInSeconds=1))
    await drain_all(processor)
    state = await state_of(redis, keys, order_id)
    assert state.expires_at is not None
    while datetime.now(UTC) < state.expires_at - timedelta(milliseconds=50):
        await processor.triggers.expire_due()  # nothing is due before its time
        assert (await state_of(redis, keys, order_id)).status is OrderStatus.OPEN

    async def expired() -> bool:
        await processor.triggers.expire_due()
        return (await state_of(redis, keys, order_id)).status is OrderStatus.EXPIRED

    await eventually(expired, within=5, what="the order expired")


async def test_an_unlisted_token_is_refused_to_every_order_but_a_sniper(
    intake: OrderIntake, symbol: str
) -> None:
    for order_type, extra in (("market", {}), ("limit", {"limitPrice": "5"})):
        body = {**_sniper(symbol), "orderType": order_type, **extra}
        with pytest.raises(CommandRejectedError) as refused:
            await _place(intake, body)
        assert refused.value.details[0]["field"] == "tokenOut"
    with pytest.raises(CommandRejectedError):
        await _place(intake, {**_sniper("SOL"), "tokenIn": symbol, "tokenOut": "SOL"})
    with pytest.raises(CommandRejectedError):
        await _place(intake, _sniper(symbol, limitPrice="5"))
    with pytest.raises(CommandRejectedError):
        await _place(intake, _sniper("WAY-TOO-LONG-1"))


async def test_a_launched_pair_trades_like_any_other_also_for_a_processor_started_later(
    redis: aioredis.Redis,
    keys: Keys,
    make_settings: MakeSettings,
    intake: OrderIntake,
    processor: ExecutionProcessor,
    symbol: str,
) -> None:
    await intake.launch(_launch(symbol))
    await drain_all(processor)
    later = execution_processor(redis, quiet_market(make_settings), name="p2")
    await later.prepare()
    market = await _place(
        intake, {"orderType": "market", "tokenIn": "SOL", "tokenOut": symbol, "amountIn": "1"}
    )
    two_hop = await _place(
        intake, {"orderType": "market", "tokenIn": "USDC", "tokenOut": symbol, "amountIn": "150"}
    )
    await drain_all(later)
    assert (await state_of(redis, keys, market)).status is OrderStatus.CONFIRMED
    hop = await state_of(redis, keys, two_hop)
    assert hop.status is OrderStatus.CONFIRMED
    assert hop.route is not None
    assert hop.route.route == "two-hop"
    board = [pool.pair for pool in await later.market.all_pools()]
    assert f"SOL/{symbol}" in board


async def test_a_venue_launches_a_pair_once(
    intake: OrderIntake, processor: ExecutionProcessor, symbol: str
) -> None:
    await intake.launch(_launch(symbol))
    with pytest.raises(PoolExistsError):
        await intake.launch(_launch(symbol))  # before any processor opened it
    await drain_all(processor)
    with pytest.raises(PoolExistsError):
        await intake.launch(
            {**_launch(symbol), "tokenA": symbol, "tokenB": "SOL", "reserveB": "5", "decimalsB": 9}
        )
    with pytest.raises(PoolExistsError):
        await intake.launch({**_launch("USDC"), "decimalsB": None})  # seeded: SOL/USDC


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"venue": "orca"}, "venue"),
        ({"tokenA": "NOPE1"}, "tokenA"),
        ({"tokenB": "SOL"}, "tokenB"),
        ({"decimalsB": None}, "decimalsB"),
        ({"decimalsB": 10}, "decimalsB"),
        ({"reserveA": "0"}, "reserveA"),
        ({"reserveB": "1.0000001"}, "reserveB"),
        ({"reserveB": "90000000000"}, "reserveB"),  # 9e16 base units: past 2^53
        ({"tokenB": "x"}, "tokenB"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_a_bad_launch_is_refused_by_field(
    intake: OrderIntake, symbol: str, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**_launch(symbol), **change}.items() if v is not None}
    with pytest.raises(CommandRejectedError) as refused:
        await intake.launch(body)
    assert field in [d["field"] for d in refused.value.details]


async def test_with_an_execution_limit_a_launched_order_takes_its_token_first(
    redis: aioredis.Redis,
    keys: Keys,
    make_settings: MakeSettings,
    intake: OrderIntake,
    symbol: str,
) -> None:
    limited = execution_processor(
        redis, quiet_market(make_settings, max_orders_per_minute=100), name="limited"
    )
    await limited.prepare()
    order_id = await _place(intake, _sniper(symbol))
    await drain_all(limited)
    await intake.launch(_launch(symbol))
    await drain_all(limited)
    types = [e.type for e in await history_of(redis, keys, order_id)]
    assert types[-6:] == [
        "OrderTriggered",
        "RoutingStarted",
        "RouteSelected",
        "TransactionBuilt",
        "TransactionSubmitted",
        "OrderConfirmed",
    ]
    bucket = await redis.hgetall(keys.execution_bucket)
    assert int(bucket[b"granted"]) == 1
