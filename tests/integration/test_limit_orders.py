"""Limit orders on real Redis: they rest open until the market reaches their price, then execute
once at no less than amountIn * limitPrice; they rest again when the market moves back before
the swap, expire on time, and a cancel racing a trigger ends in exactly one of the two."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from commands.order_intake import OrderIntake, TooLateToCancelError, TooManyRestingOrdersError
from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.wiring import execution_processor
from processors.execution_processor import ExecutionProcessor
from schema.events import OrderConfirmed, OrderOpened
from schema.statuses import OrderStatus
from tests.support.polling import eventually
from tests.support.resting import (
    drain_all,
    history_of,
    move_sol_usdc,
    place_limit,
    quiet_market,
    state_of,
)
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too


@pytest.fixture
async def processor(redis: aioredis.Redis, make_settings: MakeSettings) -> ExecutionProcessor:
    built = execution_processor(redis, quiet_market(make_settings), name="p1")
    await built.prepare()
    return built


async def _settle(processor: ExecutionProcessor) -> None:
    """Run the trigger engine once, then every execution it started, until nothing is left."""
    await processor.triggers.tick()
    await drain_all(processor)


async def test_a_limit_order_above_the_market_rests_until_the_market_reaches_it(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    order_id = await place_limit(redis, keys, "200")
    await _settle(processor)
    history = await history_of(redis, keys, order_id)
    assert [e.type for e in history] == ["OrderPlaced", "OrderOpened"]
    assert await processor.book.size() == 1

    await move_sol_usdc(processor, 220)
    await _settle(processor)
    history = await history_of(redis, keys, order_id)
    assert [e.type for e in history] == [
        "OrderPlaced",
        "OrderOpened",
        "OrderTriggered",
        "RoutingStarted",
        "RouteSelected",
        "TransactionBuilt",
        "TransactionSubmitted",
        "OrderConfirmed",
    ]
    [confirmed] = [e.payload for e in history if isinstance(e.payload, OrderConfirmed)]
    assert confirmed.amount_out >= Decimal("0.5") * 200
    assert (await state_of(redis, keys, order_id)).min_amount_out == Decimal(100)
    assert await processor.book.size() == 0


async def test_a_limit_order_the_market_already_gives_fills_at_once(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    order_id = await place_limit(redis, keys, "100")
    while await processor.drain():  # no market move, no tick: opening it tries it
        pass
    state = await state_of(redis, keys, order_id)
    assert state.status is OrderStatus.CONFIRMED
    assert state.amount_out is not None
    assert state.amount_out >= 50


async def test_an_order_the_market_left_before_its_swap_rests_again_and_fills_later(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    order_id = await place_limit(redis, keys, "200")
    await _settle(processor)
    await move_sol_usdc(processor, 220)
    await processor.triggers.tick()  # triggered, not executed yet
    await move_sol_usdc(processor, 150)  # the market moves back first
    await drain_all(processor)
    history = await history_of(redis, keys, order_id)
    assert [e.type for e in history][-2:] == ["RoutingStarted", "OrderOpened"]
    reopened = history[-1].payload
    assert isinstance(reopened, OrderOpened)
    assert reopened.reopened_after == "SLIPPAGE_EXCEEDED"
    assert await processor.book.size() == 1

    await move_sol_usdc(processor, 230)
    await _settle(processor)
    state = await state_of(redis, keys, order_id)
    assert state.status is OrderStatus.CONFIRMED
    assert state.amount_out is not None
    assert state.amount_out >= 100


async def test_a_short_expiry_expires_the_order_also_after_a_processor_restart(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings, processor: ExecutionProcessor
) -> None:
    order_id = await place_limit(redis, keys, "500", expires_in=1)
    await _settle(processor)
    assert (await state_of(redis, keys, order_id)).status is OrderStatus.OPEN
    del processor  # the first processor is gone; a new one knows the order only from Redis

    restarted = execution_processor(redis, quiet_market(make_settings), name="p2")
    await restarted.prepare()

    async def expired() -> bool:
        await restarted.triggers.expire_due()
        return (await state_of(redis, keys, order_id)).status is OrderStatus.EXPIRED

    await eventually(expired, within=5, what="the order expired")
    history = await history_of(redis, keys, order_id)
    assert [e.type for e in history] == ["OrderPlaced", "OrderOpened", "OrderExpired"]
    assert history[-1].occurred_at >= history[0].occurred_at + timedelta(seconds=1)
    assert await restarted.book.size() == 0


async def test_an_order_placed_after_its_expiry_time_is_expired_not_opened(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    order_id = await place_limit(redis, keys, "100", expires_in=-1)  # the processor was down
    await _settle(processor)
    assert [e.type for e in await history_of(redis, keys, order_id)] == [
        "OrderPlaced",
        "OrderExpired",
    ]


async def test_cancel_while_open_and_again_gives_the_same_answer(
    redis: aioredis.Redis, keys: Keys, settings: Settings, processor: ExecutionProcessor
) -> None:
    intake = OrderIntake(redis, EventAppender(redis, keys), keys, settings)
    order_id = await place_limit(redis, keys, "200")
    await _settle(processor)
    first = await intake.cancel(order_id)
    again = await intake.cancel(order_id)
    assert (again.position, again.replayed) == (first.position, True)
    await _settle(processor)
    assert await processor.book.size() == 0  # the cancel took it off the book
    await move_sol_usdc(processor, 220)
    await _settle(processor)
    types = [e.type for e in await history_of(redis, keys, order_id)]
    assert types == ["OrderPlaced", "OrderOpened", "OrderCancelled"]


async def test_a_cancel_racing_a_trigger_ends_in_exactly_one_of_them(
    redis: aioredis.Redis, keys: Keys, settings: Settings, processor: ExecutionProcessor
) -> None:
    intake = OrderIntake(redis, EventAppender(redis, keys), keys, settings)
    outcomes: list[str] = []
    for round_ in range(5):
        await move_sol_usdc(processor, 150)
        orders = [await place_limit(redis, keys, "200", amount="0.01") for _ in range(40)]
        await _settle(processor)
        await move_sol_usdc(processor, 220)

        async def cancel(index: int, order_id: uuid.UUID, spread: int = round_ + 1) -> None:
            for _ in range(index * spread):  # the cancels spread over trigger and swap
                await asyncio.sleep(0)  # deliberate: a yield, to interleave with the trigger
            with contextlib.suppress(TooLateToCancelError):  # it was submitted first
                await intake.cancel(order_id)

        await asyncio.gather(_settle(processor), *(cancel(i, o) for i, o in enumerate(orders)))
        await drain_all(processor)
        for order_id in orders:
            types = [e.type for e in await history_of(redis, keys, order_id)]
            ends = [t for t in types if t in {"OrderCancelled", "OrderConfirmed", "OrderFailed"}]
            assert len(ends) == 1, types
            assert types.count("OrderTriggered") <= 1
            outcomes.append(ends[0])
    assert set(outcomes) == {"OrderCancelled", "OrderConfirmed"}  # the race went both ways


async def test_a_client_may_have_only_so_many_orders_resting(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings, processor: ExecutionProcessor
) -> None:
    intake = OrderIntake(
        redis,
        EventAppender(redis, keys),
        keys,
        quiet_market(make_settings, max_resting_per_client=2),
    )
    body = {"orderType": "limit", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
    resting = {"limitPrice": "900", "expiresInSeconds": 600}
    placed = [
        await intake.place({**body, **resting}, client_id="alice", idempotency_key=None)
        for _ in range(2)
    ]
    await drain_all(processor)
    with pytest.raises(TooManyRestingOrdersError):
        await intake.place({**body, **resting}, client_id="alice", idempotency_key=None)
    await intake.place({**body, **resting}, client_id="bob", idempotency_key=None)
    market = {**body, "orderType": "market"}
    await intake.place(market, client_id="alice", idempotency_key=None)  # market orders do not rest
    # Once one of hers is cancelled (and off the book), alice may rest another.
    await intake.cancel(placed[0].order_id)
    await drain_all(processor)
    await intake.place({**body, **resting}, client_id="alice", idempotency_key=None)
    await drain_all(processor)
    assert await processor.book.resting_of("alice") == 2
