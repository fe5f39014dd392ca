"""Realistic order histories for benchmarks and tests: seeded, so the same seed gives the same log.

Orders are confirmed (some after retries), fail after their last attempt or at once, are cancelled,
or rest as limit orders and expire; their events interleave in the log as concurrent orders' do.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eventlog.append import AppendRequest, EventAppender
from eventlog.connections import redis_client
from eventlog.settings import Settings
from schema.events import (
    AttemptFailed,
    Event,
    OrderCancelled,
    OrderConfirmed,
    OrderExpired,
    OrderFailed,
    OrderOpened,
    OrderPlaced,
    OrderTriggered,
    Payload,
    Quote,
    RouteSelected,
    RoutingStarted,
    TransactionBuilt,
    TransactionSubmitted,
)

PAIRS = (
    ("SOL", "USDC", Decimal("150")),
    ("USDC", "SOL", Decimal("0.0066")),
    ("SOL", "BONK", Decimal("6000000")),
    ("JUP", "USDT", Decimal("0.9")),
)
VENUES = ("raydium", "meteora")
MAX_ATTEMPTS = 3
_PLACES = Decimal("0.000001")


def _attempt(rng: random.Random, attempt: int, amount_in: Decimal, price: Decimal) -> list[Payload]:
    quotes = tuple(
        Quote(
            venue=venue,
            amount_out=(amount_in * price * Decimal(1 - rng.random() / 50)).quantize(_PLACES),
            fee=(amount_in * price * Decimal("0.0025")).quantize(_PLACES),
            price_impact=Decimal(rng.randint(1, 90)) / 10_000,
        )
        for venue in VENUES
    )
    chosen = max(quotes, key=lambda q: q.amount_out)
    return [
        RoutingStarted(attempt=attempt),
        RouteSelected(
            attempt=attempt,
            quotes=quotes,
            chosen=chosen,
            expected_out=chosen.amount_out,
            min_amount_out=(chosen.amount_out * Decimal("0.99")).quantize(_PLACES),
            reason=f"{chosen.venue} gives the most",
        ),
        TransactionBuilt(attempt=attempt, steps=("wrap", "swap", "unwrap")),
        TransactionSubmitted(attempt=attempt, tx_hash=f"{rng.getrandbits(128):032x}"),
    ]


def _confirmed(rng: random.Random, attempt: int, route: RouteSelected) -> OrderConfirmed:
    return OrderConfirmed(
        attempt=attempt,
        tx_hash=f"{rng.getrandbits(128):032x}",
        venue=route.chosen.venue,
        amount_out=route.chosen.amount_out,
        executed_price=(route.chosen.amount_out / Decimal(7)).quantize(_PLACES),
        fee=route.chosen.fee,
        price_impact=route.chosen.price_impact,
    )


def order_payloads(rng: random.Random) -> list[Payload]:
    """One order's payloads, in order, for a randomly drawn fate."""
    token_in, token_out, price = rng.choice(PAIRS)
    amount_in = Decimal(rng.randint(1, 50_000)) / 1000
    fate = rng.choices(
        ["confirmed", "retried", "failed", "no_route", "cancelled", "limit", "expired"],
        weights=[55, 15, 10, 5, 7, 4, 4],
    )[0]
    limit = fate in ("limit", "expired")
    payloads: list[Payload] = [
        OrderPlaced(
            order_type="limit" if limit else "market",
            token_in=token_in,
            token_out=token_out,
            amount_in=amount_in,
            slippage=Decimal("0.01"),
            limit_price=price if limit else None,
        )
    ]
    if limit:
        payloads.append(OrderOpened(limit_price=price))
        if fate == "expired":
            return [*payloads, OrderExpired()]
        payloads.append(OrderTriggered(limit_price=price, market_out=amount_in * price))
    if fate == "cancelled":
        if rng.random() < 0.5:
            payloads.append(RoutingStarted(attempt=1))
        return [*payloads, OrderCancelled()]
    if fate == "no_route":
        return [
            *payloads,
            RoutingStarted(attempt=1),
            OrderFailed(
                attempts=1, error_code="NO_ROUTE", error_message="no venue quotes this pair"
            ),
        ]
    failures = {"retried": rng.randint(1, MAX_ATTEMPTS - 1), "failed": MAX_ATTEMPTS}.get(fate, 0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        steps = _attempt(rng, attempt, amount_in, price)
        payloads += steps
        if attempt > failures:
            assert isinstance(steps[1], RouteSelected)
            return [*payloads, _confirmed(rng, attempt, steps[1])]
        if attempt == MAX_ATTEMPTS:
            break
        payloads.append(
            AttemptFailed(
                attempt=attempt,
                error_code="TX_FAILED_TO_LAND",
                error_message="the transaction did not land",
                retry_delay_ms=500 * 2 ** (attempt - 1),
            )
        )
    return [
        *payloads,
        OrderFailed(
            attempts=MAX_ATTEMPTS, error_code="TX_FAILED_TO_LAND", error_message="no attempt left"
        ),
    ]


def build_histories(
    orders: int, *, seed: int = 1, in_flight: int = 64, start: datetime | None = None
) -> list[Event[Any]]:
    """Every event of `orders` orders, in the order a busy engine would have logged them."""
    rng = random.Random(seed)
    clock = start or datetime(2025, 1, 1, tzinfo=UTC)
    live: list[tuple[uuid.UUID, Iterator[tuple[int, Payload]]]] = []
    events: list[Event[Any]] = []
    started = 0
    while live or started < orders:
        while len(live) < in_flight and started < orders:
            order_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            live.append((order_id, iter(enumerate(order_payloads(rng), start=1))))
            started += 1
        index = rng.randrange(len(live))
        order_id, payloads = live[index]
        step = next(payloads, None)
        if step is None:
            live[index] = live[-1]
            live.pop()
            continue
        clock += timedelta(microseconds=rng.randint(100, 20_000))
        sequence, payload = step
        events.append(
            Event[type(payload)](  # type: ignore[misc,operator]
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                type=type(payload).__name__,
                order_id=order_id,
                sequence=sequence,
                occurred_at=clock,
                payload=payload,
            )
        )
    return events


async def append_histories(
    appender: EventAppender, events: Sequence[Event[Any]], *, chunk: int = 2_000
) -> None:
    """Append events in their order, pipelined, each at its expected sequence."""
    for begin in range(0, len(events), chunk):
        part = events[begin : begin + chunk]
        results = await appender.append_many([AppendRequest([e], e.sequence - 1) for e in part])
        for result in results:
            if isinstance(result, Exception):
                raise result


async def write_histories(settings: Settings, orders: int, *, seed: int) -> list[Event[Any]]:
    """Build `orders` seeded histories and append them to the settings' log, through a client of
    its own (benchmarks); returns the events written."""
    history = build_histories(orders, seed=seed)
    redis = redis_client(settings)
    try:
        await append_histories(EventAppender(redis, settings.log_keys()), history)
    finally:
        await redis.aclose()
    return history
