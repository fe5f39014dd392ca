"""What the limit and sniper order tests share: a quiet market (no drift, no execution limit), a
processor on it, running everything it has to do, and reading an order's history and state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_order
from eventlog.settings import Settings
from processors.execution_processor import ExecutionProcessor
from processors.initial_market import METEORA, RAYDIUM, concentrated, constant_product
from schema.events import Event, Payload
from schema.order_state import OrderState, fold
from tests.support.factories import order_placed
from tests.support.settings import MakeSettings

SOL_USDC = "SOL/USDC"


def quiet_market(make_settings: MakeSettings, **overrides: Any) -> Settings:
    """Settings whose prices move only when a test moves them, with no limit on executions."""
    settings: Settings = make_settings(
        **{
            "max_orders_per_minute": 0,
            "venue_drift_bps": 0,
            "venue_arbitrage_share": 0,
            **overrides,
        }
    )
    return settings


async def drain_all(processor: ExecutionProcessor) -> None:
    """Every entry the processor has to handle, and those its handling appended, until none."""
    while await processor.drain():
        pass


async def history_of(
    redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID
) -> list[Event[Payload]]:
    return [r.event for r in await read_order(redis, keys, order_id)]


async def state_of(redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID) -> OrderState:
    state = fold(await history_of(redis, keys, order_id))
    assert state is not None
    return state


async def place_limit(
    redis: aioredis.Redis,
    keys: Keys,
    price: str,
    *,
    amount: str = "0.5",
    expires_in: float = 3600,
) -> uuid.UUID:
    event = order_placed(
        order_type="limit",
        amount_in=Decimal(amount),
        limit_price=Decimal(price),
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )
    await EventAppender(redis, keys).append([event], expected_sequence=0)
    return event.order_id


async def move_sol_usdc(processor: ExecutionProcessor, price: int) -> None:
    """Both venues' SOL/USDC pools to `price` USDC per SOL."""
    await processor.market.put(
        constant_product(RAYDIUM, SOL_USDC, Decimal(80_000), Decimal(80_000 * price))
    )
    await processor.market.put(
        concentrated(METEORA, SOL_USDC, Decimal(price), Decimal(3_000_000), 0.1)
    )
