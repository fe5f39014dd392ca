"""Resting limit orders survive SIGKILL: 1,000 orders opened by a processor killed half-way, then
the market moves and the processor executing them is killed mid-swap; the processors that take
over open, trigger and fill every order exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from eventlog.append import AppendRequest, EventAppender
from eventlog.keys import EXECUTION_GROUP, Keys
from processors.initial_market import METEORA, RAYDIUM, concentrated, constant_product
from processors.market import Market
from processors.resting_book import RestingBook
from tests.support.factories import order_placed
from tests.support.polling import eventually
from tests.support.processor_processes import no_pending, processor_process, timelines
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too

ORDERS = 1000


def _count(timelines: dict[bytes, list[tuple[bytes, bytes]]], kind: bytes) -> int:
    return sum(1 for timeline in timelines.values() for k, _ in timeline if k == kind)


async def test_every_resting_order_triggers_exactly_once_across_sigkills(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(
        venue_swap_latency_min_ms=100,
        venue_swap_latency_max_ms=300,
        venue_failure_rate=0,
        venue_drift_bps=0,
        venue_arbitrage_share=0,
        max_concurrent_orders=100,
        max_orders_per_minute=0,
        consumer_claim_idle_ms=1000,
        log_level="WARNING",
    )
    market = Market(redis, keys, settings)
    await market.seed()
    expires = datetime.now(UTC) + timedelta(hours=1)
    events = [
        order_placed(
            order_type="limit",
            amount_in=Decimal("0.01"),
            limit_price=Decimal(200 + n % 10),
            expires_at=expires,
        )
        for n in range(ORDERS)
    ]
    book = RestingBook(redis, keys)

    with processor_process(settings, "opener", tmp_path / "opener.log") as opener:
        await eventually(
            lambda: redis.exists(keys.health(EXECUTION_GROUP, "opener")),
            within=30,
            what="the first processor is up",
        )
        await EventAppender(redis, keys).append_many([AppendRequest([e], 0) for e in events])

        async def some_open() -> bool:
            return _count(await timelines(redis, keys), b"OrderOpened") >= 100

        await eventually(some_open, within=30, what="orders opening")
        opener.kill()
        opener.wait(timeout=10)
    assert _count(await timelines(redis, keys), b"OrderOpened") < ORDERS, "killed too late"

    with processor_process(settings, "heir", tmp_path / "heir.log") as heir:

        async def all_resting() -> bool:
            return await book.size() == ORDERS

        await eventually(all_resting, within=60, what="every order resting")
        # The market moves past every limit price.
        await market.put(
            constant_product(RAYDIUM, "SOL/USDC", Decimal(80_000), Decimal(80_000 * 230))
        )
        await market.put(concentrated(METEORA, "SOL/USDC", Decimal(230), Decimal(3_000_000), 0.1))

        async def mid_swap() -> bool:
            found = await timelines(redis, keys)
            swapping = sum(1 for t in found.values() if t[-1][0] == b"TransactionSubmitted")
            return swapping >= 20

        await eventually(mid_swap, within=30, what="orders mid-swap")
        heir.kill()
        heir.wait(timeout=10)

    with processor_process(settings, "second-heir", tmp_path / "second-heir.log") as second:

        async def all_confirmed() -> dict[bytes, list[tuple[bytes, bytes]]]:
            found = await timelines(redis, keys)
            return found if _count(found, b"OrderConfirmed") >= ORDERS else {}

        final = await eventually(all_confirmed, within=90, what="every order confirmed")
        await eventually(no_pending(redis, keys), within=10, what="nothing pending")
        second.terminate()
        assert second.wait(timeout=15) == 0

    assert len(final) == ORDERS
    for order_id, timeline in final.items():
        kinds = Counter(kind for kind, _ in timeline)
        assert kinds[b"OrderOpened"] == 1, (order_id, timeline)
        assert kinds[b"OrderTriggered"] == 1, (order_id, timeline)
        assert kinds[b"OrderConfirmed"] == 1, (order_id, timeline)
        assert timeline[-1][0] == b"OrderConfirmed"
    assert await book.size() == 0
