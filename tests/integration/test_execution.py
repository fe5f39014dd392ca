"""The execution processor end to end on real Redis: routes, fills, slippage and retries."""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator
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
from processors.initial_market import METEORA, RAYDIUM, concentrated, constant_product
from processors.route_fills import PlannedLeg
from schema.events import (
    AttemptFailed,
    Event,
    OrderConfirmed,
    OrderFailed,
    Payload,
    RouteSelected,
    RoutingStarted,
    TransactionBuilt,
    TransactionSubmitted,
)
from schema.order_state import fold
from tests.support.factories import order_placed
from tests.support.failure_scripts import FailureScript
from tests.support.polling import eventually
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too

TERMINAL = ("OrderConfirmed", "OrderFailed", "OrderCancelled", "OrderExpired")


async def _place(redis: aioredis.Redis, keys: Keys, **fields: Any) -> uuid.UUID:
    event = order_placed(**fields)
    await EventAppender(redis, keys).append([event], expected_sequence=0)
    return event.order_id


async def _history(redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID) -> list[Event[Payload]]:
    return [recorded.event for recorded in await read_order(redis, keys, order_id)]


def _of(history: list[Event[Payload]], kind: type[Payload]) -> list[Any]:
    return [event.payload for event in history if isinstance(event.payload, kind)]


def _unlimited(make_settings: MakeSettings, **overrides: Any) -> Settings:
    settings: Settings = make_settings(**{"max_orders_per_minute": 0, **overrides})
    return settings


@pytest.fixture
async def processor(redis: aioredis.Redis, make_settings: MakeSettings) -> ExecutionProcessor:
    built = execution_processor(redis, _unlimited(make_settings), name="p1")
    await built.prepare()
    return built


@pytest.fixture
async def running(redis: aioredis.Redis, make_settings: MakeSettings) -> AsyncIterator[Any]:
    """Start a processor with these settings in the background; it stops after the test."""
    started: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> ExecutionProcessor:
        settings = _unlimited(make_settings, **overrides)
        built = execution_processor(redis, settings, name=f"p{len(started)}")
        await built.prepare()
        stop = asyncio.Event()
        started.append((stop, asyncio.create_task(built.run(stop))))
        return built

    yield start
    for stop, _ in started:
        stop.set()
    for _, task in started:
        await task


async def test_a_market_order_is_routed_built_submitted_and_confirmed_once(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    order_id = await _place(redis, keys, token_in="SOL", token_out="USDC", amount_in=Decimal("2"))
    await processor.drain()
    history = await _history(redis, keys, order_id)
    assert [e.type for e in history] == [
        "OrderPlaced",
        "RoutingStarted",
        "RouteSelected",
        "TransactionBuilt",
        "TransactionSubmitted",
        "OrderConfirmed",
    ]
    [selected] = _of(history, RouteSelected)
    [built] = _of(history, TransactionBuilt)
    [submitted] = _of(history, TransactionSubmitted)
    [confirmed] = _of(history, OrderConfirmed)
    assert {q.venue for q in selected.quotes if q.route == "direct"} == {RAYDIUM, METEORA}
    assert selected.min_amount_out == (selected.expected_out * Decimal("0.99")).quantize(
        Decimal("0.000001"), rounding="ROUND_FLOOR"
    )
    assert any(step.startswith("wrap 2 SOL into wSOL") for step in built.steps)
    assert confirmed.tx_hash == submitted.tx_hash
    assert confirmed.amount_out == selected.expected_out  # nothing moved the pool meanwhile
    assert Decimal(280) < confirmed.amount_out < Decimal(320)
    assert confirmed.executed_price == (confirmed.amount_out / 2).normalize()
    assert all(e.causation_id == prev.event_id for prev, e in itertools.pairwise(history))
    assert await processor.drain() == 0  # nothing left; a second drain does nothing


async def test_the_venue_with_the_better_price_gets_the_order(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    await processor.market.put(
        constant_product(RAYDIUM, "SOL/USDC", Decimal(20_000), Decimal(3_090_000))  # 154.5
    )
    await processor.market.put(
        concentrated(METEORA, "SOL/USDC", Decimal(150), Decimal(3_000_000), 0.1)
    )
    order_id = await _place(redis, keys, token_in="SOL", token_out="USDC", amount_in=Decimal(3))
    await processor.drain()
    history = await _history(redis, keys, order_id)
    [selected] = _of(history, RouteSelected)
    [confirmed] = _of(history, OrderConfirmed)
    assert selected.chosen.venue == confirmed.venue == RAYDIUM
    assert "raydium direct gives the most" in selected.reason
    meteora = next(q for q in selected.quotes if q.venue == METEORA)
    assert meteora.amount_out < confirmed.amount_out


async def test_a_large_order_is_split_across_venues_because_of_price_impact(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    await processor.market.put(
        constant_product(RAYDIUM, "SOL/USDC", Decimal(20_000), Decimal(3_000_000))
    )
    await processor.market.put(
        concentrated(METEORA, "SOL/USDC", Decimal("151.5"), Decimal(400_000), 0.1)
    )
    small = await _place(redis, keys, token_in="SOL", token_out="USDC", amount_in=Decimal(5))
    await processor.drain()
    large = await _place(redis, keys, token_in="SOL", token_out="USDC", amount_in=Decimal(4000))
    await processor.drain()
    [small_route] = _of(await _history(redis, keys, small), RouteSelected)
    [large_route] = _of(await _history(redis, keys, large), RouteSelected)
    assert small_route.chosen.venue == METEORA
    assert large_route.chosen.route == "split"
    [confirmed] = _of(await _history(redis, keys, large), OrderConfirmed)
    assert confirmed.venue == "raydium+meteora"
    assert confirmed.amount_out > max(
        q.amount_out for q in large_route.quotes if q.route == "direct"
    )


async def test_bonk_to_jup_goes_through_sol(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    order_id = await _place(
        redis, keys, token_in="BONK", token_out="JUP", amount_in=Decimal("10000000")
    )
    await processor.drain()
    history = await _history(redis, keys, order_id)
    [selected] = _of(history, RouteSelected)
    [built] = _of(history, TransactionBuilt)
    [confirmed] = _of(history, OrderConfirmed)
    assert selected.chosen.route == "two-hop"
    assert [leg["pool"] for leg in selected.chosen.legs] == ["SOL/BONK", "SOL/JUP"]
    assert not any("wrap" in step for step in built.steps)  # SOL stays inside the transaction
    assert Decimal(240) < confirmed.amount_out < Decimal(290)  # ~210 USD of BONK at 0.80 a JUP


async def test_a_pool_that_moved_beyond_tolerance_before_the_swap_landed_fails_without_retry(
    redis: aioredis.Redis, keys: Keys, running: Any
) -> None:
    processor = await running(
        venue_swap_latency_min_ms=1600,
        venue_swap_latency_max_ms=1600,
        venue_drift_bps=0,
        venue_arbitrage_share=0,
    )
    await processor.market.remove(METEORA, "SOL/USDC")
    order_id = await _place(
        redis,
        keys,
        token_in="SOL",
        token_out="USDC",
        amount_in=Decimal(10),
        slippage=Decimal("0.005"),
    )

    async def submitted() -> bool:
        return any(e.type == "TransactionSubmitted" for e in await _history(redis, keys, order_id))

    await eventually(submitted, what="the order's transaction in flight")
    # Someone else sells 2 % of the pool's SOL before our transaction lands.
    mover = uuid.uuid4()
    moved = await processor.market.swap(
        mover, 1, "direct", (PlannedLeg(RAYDIUM, "SOL/USDC", "SOL", 800 * 10**9),), 0, "tx", None
    )
    assert moved["status"] == "filled"
    pool_after_mover = await processor.market.pool(RAYDIUM, "SOL/USDC")

    async def ended() -> list[Event[Payload]]:
        history = await _history(redis, keys, order_id)
        return history if history[-1].type in TERMINAL else []

    history = await eventually(ended, what="the order's end")
    [failed] = _of(history, OrderFailed)
    assert failed.error_code == ErrorCode.SLIPPAGE_EXCEEDED
    assert failed.attempts == 1
    assert _of(history, AttemptFailed) == []
    pool = await processor.market.pool(RAYDIUM, "SOL/USDC")
    assert pool is not None
    assert pool_after_mover is not None
    assert (pool.reserve_a, pool.reserve_b) == (
        pool_after_mover.reserve_a,
        pool_after_mover.reserve_b,
    )


async def test_every_confirmed_order_got_at_least_its_min_amount_out(
    redis: aioredis.Redis, keys: Keys, running: Any
) -> None:
    processor = await running(
        venue_failure_rate=0.2,
        venue_swap_latency_min_ms=0,
        venue_swap_latency_max_ms=20,
        venue_drift_interval_ms=20,
        venue_drift_bps=30,
        max_concurrent_orders=20,
    )
    rng = random.Random(3)
    pairs = [("SOL", "USDC"), ("USDC", "SOL"), ("BONK", "JUP"), ("SOL", "USDT"), ("JUP", "RAY")]
    sizes = {"SOL": "3", "USDC": "500", "BONK": "20000000", "JUP": "600"}
    orders = []
    for _ in range(120):
        token_in, token_out = rng.choice(pairs)
        orders.append(
            await _place(
                redis,
                keys,
                token_in=token_in,
                token_out=token_out,
                amount_in=Decimal(sizes[token_in]) * rng.choice([1, 10, 100]),
                slippage=Decimal(rng.choice(["0.001", "0.01"])),
            )
        )
    await eventually(
        lambda: processor.stats.confirmed + processor.stats.failed == len(orders),
        within=30,
        what="every order ended",
    )
    outcomes: dict[str, int] = {}
    for order_id in orders:
        history = await _history(redis, keys, order_id)
        assert sum(e.type in TERMINAL for e in history) == 1
        state = fold(history)
        assert state is not None
        outcome = state.status if state.status == "confirmed" else str(state.error_code)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if state.status == "confirmed":
            assert state.min_amount_out is not None
            assert state.amount_out is not None
            assert state.min_amount_out <= state.amount_out
    assert outcomes["confirmed"] >= 60, outcomes
    # The others met a pool that moved too far, or failed to land three times.
    assert set(outcomes) <= {
        "confirmed",
        ErrorCode.SLIPPAGE_EXCEEDED,
        ErrorCode.TX_FAILED_TO_LAND,
        ErrorCode.RPC_TIMEOUT,
    }
    assert processor.stats.attempts_failed > 10  # transient failures were retried


async def test_a_venue_that_fails_twice_then_succeeds_gives_confirmed_after_growing_delays(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = _unlimited(
        make_settings, retry_base_delay_ms=40, retry_max_delay_ms=1000, max_retry_attempts=3
    )
    processor = execution_processor(redis, settings, name="p1")
    order_id = uuid.uuid4()
    await FailureScript(redis, keys).fail_next(
        ErrorCode.TX_FAILED_TO_LAND, ErrorCode.TX_FAILED_TO_LAND, order_id=order_id
    )
    await _place(redis, keys, order_id=order_id)
    await processor.drain()
    history = await _history(redis, keys, order_id)
    failures = _of(history, AttemptFailed)
    assert [(f.attempt, f.error_code) for f in failures] == [
        (1, ErrorCode.TX_FAILED_TO_LAND),
        (2, ErrorCode.TX_FAILED_TO_LAND),
    ]
    assert 40 <= failures[0].retry_delay_ms < failures[1].retry_delay_ms <= 120
    assert [r.attempt for r in _of(history, RoutingStarted)] == [1, 2, 3]
    assert len(_of(history, RouteSelected)) == 3  # a fresh quote each attempt
    [confirmed] = _of(history, OrderConfirmed)
    assert confirmed.attempt == 3
    assert _of(history, OrderFailed) == []
    gap = history[history.index(next(e for e in history if e.type == "AttemptFailed")) + 1]
    assert gap.type == "RoutingStarted"


@pytest.mark.parametrize("max_attempts", [1, 4])
async def test_a_venue_that_always_fails_gives_one_failed_after_every_attempt(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings, max_attempts: int
) -> None:
    settings = _unlimited(make_settings, max_retry_attempts=max_attempts)
    processor = execution_processor(redis, settings, name="p")
    await FailureScript(redis, keys).fail_always(ErrorCode.TX_FAILED_TO_LAND)
    order_id = await _place(redis, keys)
    await processor.drain()
    history = await _history(redis, keys, order_id)
    assert len(_of(history, RoutingStarted)) == max_attempts
    assert len(_of(history, AttemptFailed)) == max_attempts - 1
    [failed] = _of(history, OrderFailed)
    assert failed.attempts == max_attempts
    assert failed.error_code == ErrorCode.TX_FAILED_TO_LAND
    assert history[-1].type == "OrderFailed"


async def test_an_order_no_pool_can_fill_fails_at_once_without_retry(
    redis: aioredis.Redis, keys: Keys, processor: ExecutionProcessor
) -> None:
    for venue in (RAYDIUM, METEORA):
        await processor.market.remove(venue, "SOL/JUP")
    order_id = await _place(redis, keys, token_in="JUP", token_out="SOL", amount_in=Decimal(10))
    await processor.drain()
    history = await _history(redis, keys, order_id)
    assert [e.type for e in history] == ["OrderPlaced", "RoutingStarted", "OrderFailed"]
    [failed] = _of(history, OrderFailed)
    assert failed.error_code == ErrorCode.NO_ROUTE
    assert failed.attempts == 1
