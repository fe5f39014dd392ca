"""Crash safety of execution: a processor that stops at any point is resumed from the log, fills
at most once, and honours cancels, back-offs and quote expiry; poison entries end their order."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis

from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_order
from eventlog.settings import Settings
from oee.wiring import execution_processor
from processors.errors import ErrorCode
from processors.execution_processor import ExecutionProcessor
from processors.initial_market import RAYDIUM
from processors.route_choice import Router
from processors.transactions import transaction_steps
from schema.events import (
    AttemptFailed,
    Event,
    OrderCancelled,
    OrderFailed,
    Payload,
    RoutingStarted,
    TransactionBuilt,
    TransactionSubmitted,
    new_event,
)
from tests.support.factories import order_placed
from tests.support.failure_scripts import FailureScript
from tests.support.polling import eventually
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too


def _settings(make_settings: MakeSettings, **overrides: Any) -> Settings:
    settings: Settings = make_settings(
        **{
            "max_orders_per_minute": 0,
            "venue_drift_bps": 0,
            "venue_arbitrage_share": 0,
            **overrides,
        }
    )
    return settings


async def _history(redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID) -> list[Event[Payload]]:
    return [recorded.event for recorded in await read_order(redis, keys, order_id)]


async def _append(
    redis: aioredis.Redis,
    keys: Keys,
    *payloads: Payload,
    order_id: uuid.UUID,
    at: datetime | None = None,
) -> None:
    """Extend an order's history as a processor that then died would have."""
    sequence = len(await read_order(redis, keys, order_id))
    events = [
        new_event(p, order_id=order_id, sequence=sequence + n, occurred_at=at)
        for n, p in enumerate(payloads, start=1)
    ]
    await EventAppender(redis, keys).append(events, expected_sequence=sequence)


async def _sol_reserve(processor: ExecutionProcessor) -> int:
    pool = await processor.market.pool(RAYDIUM, "SOL/USDC")
    assert pool is not None
    return pool.reserve_a


async def test_a_processor_stopped_after_the_swap_landed_is_resumed_without_a_second_fill(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    slow = _settings(make_settings, venue_swap_latency_min_ms=3000, venue_swap_latency_max_ms=3000)
    first = execution_processor(redis, slow, name="first")
    await first.prepare()
    await first.market.remove("meteora", "SOL/USDC")
    reserve_before = await _sol_reserve(first)
    placed = order_placed(token_in="SOL", token_out="USDC", amount_in=Decimal(4))
    await EventAppender(redis, keys).append([placed], expected_sequence=0)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    # Landed (the pool moved) but the confirmation is not seen yet: the worst moment to die.
    await eventually(
        lambda: redis.hexists(keys.submission(placed.order_id), "filled"), what="landing"
    )
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert [e.type for e in await _history(redis, keys, placed.order_id)][
        -1
    ] == "TransactionSubmitted"

    second = execution_processor(
        redis, _settings(make_settings, consumer_claim_idle_ms=200), name="b"
    )
    await eventually(second.drain, what="the second processor reclaimed the idle entry")
    assert (first.stats.confirmed, second.stats.confirmed) == (0, 1)
    history = await _history(redis, keys, placed.order_id)
    assert [e.type for e in history][-2:] == ["TransactionSubmitted", "OrderConfirmed"]
    assert await _sol_reserve(first) - reserve_before == 4 * 10**9  # moved by one fill only
    pending: Any = await redis.xpending(keys.events, "execution")
    assert pending["pending"] == 0


async def test_an_order_built_but_never_submitted_is_submitted_by_the_next_processor(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    processor = execution_processor(redis, _settings(make_settings), name="p")
    await processor.prepare()
    placed = order_placed(token_in="USDC", token_out="SOL", amount_in=Decimal(300))
    await EventAppender(redis, keys).append([placed], expected_sequence=0)
    router = Router(processor._context.venues)
    selected = await router.route(placed.order_id, 1, "USDC", "SOL", Decimal(300), Decimal("0.01"))
    steps = transaction_steps(selected.chosen, "USDC", "SOL", Decimal(300), selected.min_amount_out)
    await _append(
        redis,
        keys,
        RoutingStarted(attempt=1),
        selected,
        TransactionBuilt(attempt=1, steps=steps),
        order_id=placed.order_id,
    )
    await processor.drain()
    history = await _history(redis, keys, placed.order_id)
    assert [e.type for e in history][3:] == [
        "TransactionBuilt",
        "TransactionSubmitted",
        "OrderConfirmed",
    ]
    assert len([e for e in history if e.type == "RoutingStarted"]) == 1


async def test_a_route_older_than_the_quote_ttl_is_quoted_again(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    processor = execution_processor(
        redis, _settings(make_settings, venue_quote_ttl_ms=5000), name="p"
    )
    await processor.prepare()
    placed = order_placed()
    await EventAppender(redis, keys).append([placed], expected_sequence=0)
    selected = await Router(processor._context.venues).route(
        placed.order_id, 1, "SOL", "USDC", Decimal("1.5"), Decimal("0.01")
    )
    long_ago = datetime.now(UTC) - timedelta(minutes=1)
    await _append(
        redis,
        keys,
        RoutingStarted(attempt=1),
        selected,
        TransactionBuilt(attempt=1, steps=()),
        order_id=placed.order_id,
        at=long_ago,
    )
    await processor.drain()
    history = await _history(redis, keys, placed.order_id)
    [expired] = [e.payload for e in history if isinstance(e.payload, AttemptFailed)]
    assert expired.error_code == ErrorCode.QUOTE_EXPIRED
    assert [e.type for e in history][-1] == "OrderConfirmed"
    assert [e.payload.attempt for e in history if isinstance(e.payload, TransactionSubmitted)] == [
        2
    ]


async def test_a_retry_due_when_the_processor_died_waits_out_its_announced_delay(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    processor = execution_processor(redis, _settings(make_settings), name="p")
    placed = order_placed()
    await EventAppender(redis, keys).append([placed], expected_sequence=0)
    await _append(
        redis,
        keys,
        RoutingStarted(attempt=1),
        AttemptFailed(
            attempt=1, error_code="TX_FAILED_TO_LAND", error_message="x", retry_delay_ms=400
        ),
        order_id=placed.order_id,
    )
    await processor.drain()
    history = await _history(redis, keys, placed.order_id)
    failed_at = history[2].occurred_at
    retried = next(
        e for e in history if isinstance(e.payload, RoutingStarted) and e.payload.attempt == 2
    )
    assert retried.occurred_at - failed_at >= timedelta(milliseconds=400)
    assert history[-1].type == "OrderConfirmed"


async def test_a_cancel_during_the_back_off_stops_the_order_for_good(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = _settings(make_settings, retry_base_delay_ms=600, retry_max_delay_ms=600)
    processor = execution_processor(redis, settings, name="p")
    await processor.prepare()
    placed = order_placed()
    await FailureScript(redis, keys).fail_next(
        ErrorCode.TX_FAILED_TO_LAND, order_id=placed.order_id
    )
    await EventAppender(redis, keys).append([placed], expected_sequence=0)
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    try:

        async def backing_off() -> bool:
            history = await _history(redis, keys, placed.order_id)
            return history[-1].type == "AttemptFailed"

        await eventually(backing_off, what="the first attempt failed")
        await _append(
            redis, keys, OrderCancelled(), order_id=placed.order_id
        )  # the client's cancel
        await eventually(
            lambda: processor.stats.in_flight == 0 and processor.stats.resumed == 1,
            what="the processor let go of the order",
        )
    finally:
        stop.set()
        await task
    history = await _history(redis, keys, placed.order_id)
    assert history[-1].type == "OrderCancelled"
    assert [e.type for e in history].count("RoutingStarted") == 1


async def test_a_poison_entry_is_dead_lettered_and_its_order_fails_once_with_the_reason(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = _settings(make_settings, consumer_max_deliveries=2, consumer_claim_idle_ms=1)
    processor = execution_processor(redis, settings, name="p")
    placed = order_placed()
    await EventAppender(redis, keys).append([placed], expected_sequence=0)
    # A history no processor can resume: submitted without ever being routed.
    await _append(
        redis, keys, TransactionSubmitted(attempt=1, tx_hash="x"), order_id=placed.order_id
    )
    healthy = order_placed()
    await EventAppender(redis, keys).append([healthy], expected_sequence=0)
    await processor.drain()
    history = await _history(redis, keys, placed.order_id)
    assert [e.type for e in history] == ["OrderPlaced", "TransactionSubmitted", "OrderFailed"]
    failed = history[-1].payload
    assert isinstance(failed, OrderFailed)
    assert failed.error_code == ErrorCode.PROCESSING_ERROR
    assert "InvalidTransitionError" in failed.error_message
    letters: Any = await redis.xrange(keys.dead_letters)
    assert [fields[b"order_id"].decode() for _, fields in letters] == [str(placed.order_id)]
    assert (await _history(redis, keys, healthy.order_id))[-1].type == "OrderConfirmed"
    assert processor.consumer.stats.dead_lettered == 1
