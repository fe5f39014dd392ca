"""The execution limits hold and can be watched: orders in flight per processor, and orders
started per minute across every processor."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from eventlog.append import AppendRequest, EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_order
from oee.wiring import execution_processor
from processors.execution_processor import ExecutionProcessor
from schema.events import RoutingStarted
from tests.support.factories import order_placed
from tests.support.polling import eventually
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too

TERMINAL = ("OrderConfirmed", "OrderFailed")


async def _place_many(redis: aioredis.Redis, keys: Keys, count: int) -> list[Any]:
    events = [order_placed() for _ in range(count)]
    await EventAppender(redis, keys).append_many([AppendRequest([e], 0) for e in events])
    return [e.order_id for e in events]


async def _spans(
    redis: aioredis.Redis, keys: Keys, orders: list[Any]
) -> list[tuple[datetime, datetime]]:
    """When each order started (its first RoutingStarted) and ended (its terminal event)."""
    spans = []
    for order_id in orders:
        history = [r.event for r in await read_order(redis, keys, order_id)]
        start = next(e.occurred_at for e in history if isinstance(e.payload, RoutingStarted))
        end = next(e.occurred_at for e in history if e.type in TERMINAL)
        spans.append((start, end))
    return spans


async def _run_until_done(processors: list[ExecutionProcessor], count: int, within: float) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in processors]
    try:
        await eventually(
            lambda: sum(p.stats.confirmed + p.stats.failed for p in processors) == count,
            within=within,
            what=f"{count} orders executed",
        )
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_no_more_than_max_concurrent_orders_are_in_flight_and_the_gauge_shows_it(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    settings = make_settings(
        max_concurrent_orders=4,
        max_orders_per_minute=0,
        venue_swap_latency_min_ms=20,
        venue_swap_latency_max_ms=60,
    )
    processor = execution_processor(redis, settings, name="capped")
    orders = await _place_many(redis, keys, 40)
    await _run_until_done([processor], 40, within=20)
    spans = await _spans(redis, keys, orders)
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    in_flight, most = 0, 0
    for _, step in edges:
        in_flight += step
        most = max(most, in_flight)
    assert most == 4  # the cap was reached and never exceeded
    assert processor.stats.max_in_flight == 4
    published: Any = await redis.hgetall(keys.execution_stats("capped"))
    assert published[b"max_in_flight"] == b"4"
    assert published[b"max_concurrent_orders"] == b"4"
    assert published[b"in_flight"] == b"0"
    assert published[b"confirmed"] == b"40"


async def test_a_minutes_budget_starts_at_once_and_the_rest_at_the_rate_across_processors(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings
) -> None:
    budget = 30  # a minute's budget: 30 start at once, then one every 2 s
    settings = make_settings(max_orders_per_minute=budget, max_concurrent_orders=20)
    processors = [execution_processor(redis, settings, name=name) for name in ("a", "b")]
    orders = await _place_many(redis, keys, budget + 3)
    await _run_until_done(processors, budget + 3, within=30)
    starts = sorted(start for start, _ in await _spans(redis, keys, orders))
    assert (starts[budget - 1] - starts[0]).total_seconds() < 1.5  # the budget, without waiting
    per_second = budget / 60
    assert (starts[-1] - starts[0]).total_seconds() >= 3 / per_second - 0.5  # then at the rate
    for i, first in enumerate(starts):
        in_window = sum(1 for t in starts[i:] if (t - first).total_seconds() < 2.0)
        assert in_window <= budget + 2 * per_second + 1, f"{in_window} started within 2 s"
    assert all(p.stats.started > 0 for p in processors)  # both took part, one budget
    bucket: Any = await redis.hgetall(keys.execution_bucket)
    assert int(bucket[b"granted"]) == budget + 3
    assert int(bucket[b"throttled"]) > 0
