"""The resting-orders benchmark: one processor process with N limit orders resting, then the
market moved past a slice of them, round after round; then M sniper orders waiting for a token
and its pool launched. Figures: how fast orders open, the trigger latency from the pool change to
each order's `OrderTriggered` (its `routing`), the time from the launch to each sniper order's
`TransactionSubmitted`, and the memory the processor and Redis hold for N resting orders. In a
key prefix of its own (removed after)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.execution import (
    start_processor,
    stop_and_clean,
    wait_until_group_caught_up,
    wait_until_ready,
)
from bench.percentile import percentile
from bench.process_readings import peak_rss_kib, rss_kib
from bench.scope import execution_run
from commands.pool_launch import decide_launch_pool, parse_launch_pool
from eventlog.append import AppendRequest, EventAppender
from eventlog.connections import redis_client
from eventlog.keys import Keys
from eventlog.settings import Settings
from processors.initial_market import METEORA, RAYDIUM, concentrated, constant_product
from processors.market import Market
from processors.resting_book import RestingBook
from schema.events import OrderPlaced, new_event

RESTING = 10_000
ROUNDS = 20
SNIPERS = 1_000
START_PRICE = 150  # USDC per SOL, both venues
# Limits spread evenly over START_PRICE * (1 + LOWEST .. LOWEST + SPAN); each round moves the
# market up by a step, so a slice of the book triggers at once.
LOWEST = 0.05
SPAN = 0.60


async def bench_resting(
    settings: Settings, resting: int, rounds: int, snipers: int
) -> dict[str, float]:
    run = execution_run(
        settings, venue_drift_bps=0, venue_arbitrage_share=0.0, max_resting_per_client=0
    )
    keys = run.log_keys()
    redis = redis_client(run)
    market = Market(redis, keys, run)
    await market.seed()
    await _set_price(market, START_PRICE)
    book = RestingBook(redis, keys)
    process = start_processor(run, "bench-resting")
    try:
        await wait_until_ready(redis, keys, ["bench-resting"], [process])
        rss_before = rss_kib(process.pid) / 1024
        redis_before = await _used_memory(redis)
        began = time.perf_counter()
        await _place(EventAppender(redis, keys), resting)
        await _until(lambda: _is(book.size(), resting), 60 + resting / 500, "orders resting")
        opened = time.perf_counter() - began
        rss_resting = rss_kib(process.pid) / 1024
        redis_resting = await _used_memory(redis)
        latencies, triggered, confirmed = await _rounds(redis, keys, market, book, resting, rounds)
        still_resting = await book.size()
        launch_to_submitted = await _launch(redis, keys, snipers)
        peak = peak_rss_kib(process.pid) / 1024
    finally:
        await stop_and_clean([process], redis, run.key_prefix)
    return {
        "resting_orders": float(resting),
        "opened_per_second": round(resting / opened, 1),
        "triggers": float(len(latencies)),
        "orders_triggered": float(triggered),
        "orders_confirmed": float(confirmed),
        "still_resting": float(still_resting),
        "trigger_latency_p50_ms": round(percentile(latencies, 0.50), 1),
        "trigger_latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "trigger_latency_max_ms": round(max(latencies), 1),
        "sniper_orders": float(snipers),
        "launch_to_submitted_p50_ms": round(percentile(launch_to_submitted, 0.50), 1),
        "launch_to_submitted_p99_ms": round(percentile(launch_to_submitted, 0.99), 1),
        "launch_to_last_submitted_ms": round(max(launch_to_submitted), 1),
        "processor_rss_mb_idle": round(rss_before, 1),
        "processor_rss_mb_resting": round(rss_resting, 1),
        "processor_peak_rss_mb": round(peak, 1),
        "redis_bytes_per_resting_order": round((redis_resting - redis_before) / resting, 1),
    }


async def _rounds(
    redis: Any, keys: Keys, market: Market, book: RestingBook, resting: int, rounds: int
) -> tuple[list[float], int, int]:
    """Move the market up `rounds` times; each trigger is timed from the move (Redis time,
    before the pools change) to its OrderTriggered's entry id (Redis milliseconds). Also returns
    how many orders were triggered (one the market left behind before its swap rests again, and
    may be triggered again by a later move) and how many were confirmed."""
    latencies: list[float] = []
    triggered: set[bytes] = set()
    confirmed: set[bytes] = set()
    position = (await redis.xinfo_stream(keys.events))["last-generated-id"]
    step = SPAN / (rounds + 1)
    for n in range(1, rounds + 1):
        before = await book.size()
        seconds, micros = await redis.time()
        moved_at_ms = seconds * 1000 + micros / 1000
        await _set_price(market, START_PRICE * (1 + LOWEST + step * n))
        await _until(lambda b=before: _less(book.size(), b), 30, "a round's triggers")
        await _until(lambda b=before: _settled(book), 30, "the round's last trigger")
        await wait_until_group_caught_up(redis, keys)  # the next move meets an idle processor
        reply: Any = await redis.xrange(keys.events, min=f"({position.decode()}", max="+")
        for entry_id, fields in reply:
            position = entry_id
            if fields[b"type"] == b"OrderTriggered":
                latencies.append(int(entry_id.split(b"-")[0]) - moved_at_ms)
                triggered.add(fields[b"order_id"])
            elif fields[b"type"] == b"OrderConfirmed":
                confirmed.add(fields[b"order_id"])
    return latencies, len(triggered), len(confirmed)


async def _launch(redis: Any, keys: Keys, count: int) -> list[float]:
    """Place `count` sniper orders for a token no pool has, launch its pool, and time each
    order from the launch's entry to its TransactionSubmitted's (both Redis milliseconds)."""
    symbol = f"B{uuid.uuid4().hex[:6].upper()}"
    expires = datetime.now(UTC) + timedelta(hours=1)
    appender = EventAppender(redis, keys)
    orders = [
        new_event(
            OrderPlaced(
                order_type="sniper",
                token_in="SOL",
                token_out=symbol,
                amount_in=Decimal("0.01"),
                slippage=Decimal("0.5"),
                expires_at=expires,
            ),
            order_id=uuid.uuid4(),
            sequence=1,
        )
        for _ in range(count)
    ]
    for start in range(0, count, 2_000):
        await appender.append_many([AppendRequest([e], 0) for e in orders[start : start + 2_000]])
    book = RestingBook(redis, keys)
    await _until(lambda: _snipers_waiting(book, symbol, count), 60, "sniper orders resting")
    command, decimals = parse_launch_pool(
        {
            "venue": "raydium",
            "tokenA": "SOL",
            "tokenB": symbol,
            "reserveA": "100000",
            "reserveB": "1000000000",
            "decimalsB": 6,
        }
    )
    [launched_at] = await appender.append(
        [decide_launch_pool(command, decimals)], expected_sequence=0
    )
    launch_ms = int(launched_at.split("-")[0])
    waiting = {str(e.order_id).encode() for e in orders}
    delays: list[float] = []
    position = launched_at
    deadline = time.monotonic() + 120
    while waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} sniper orders were not submitted in time")
        reply: Any = await redis.xread({keys.events: position}, count=10_000, block=1_000)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                position = entry_id
                if fields[b"type"] == b"TransactionSubmitted" and fields[b"order_id"] in waiting:
                    waiting.discard(fields[b"order_id"])
                    delays.append(int(entry_id.split(b"-")[0]) - launch_ms)
    return delays


async def _snipers_waiting(book: RestingBook, symbol: str, count: int) -> bool:
    return len(await book.snipers("SOL", symbol, count)) == count


async def _settled(book: RestingBook) -> bool:
    """The book stopped shrinking for a moment: the round's slice has triggered."""
    first = await book.size()
    await asyncio.sleep(0.2)  # a pause long enough for ten trigger ticks
    return await book.size() == first


async def _set_price(market: Market, price: float) -> None:
    whole = Decimal(str(round(price, 6)))
    await market.put(constant_product(RAYDIUM, "SOL/USDC", Decimal(80_000), 80_000 * whole))
    await market.put(concentrated(METEORA, "SOL/USDC", whole, Decimal(3_000_000), 0.1))


async def _place(appender: EventAppender, count: int) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    requests = []
    for n in range(count):
        limit = START_PRICE * (1 + LOWEST + SPAN * n / count)
        payload = OrderPlaced(
            order_type="limit",
            token_in="SOL",
            token_out="USDC",
            amount_in=Decimal("0.01"),
            slippage=Decimal("0.01"),
            limit_price=Decimal(str(round(limit, 4))),
            expires_at=expires,
            client_id=f"client-{n % 50}",
        )
        requests.append(AppendRequest([new_event(payload, order_id=uuid.uuid4(), sequence=1)], 0))
    for start in range(0, count, 2_000):
        await appender.append_many(requests[start : start + 2_000])


async def _used_memory(redis: Any) -> float:
    info = await redis.info("memory")
    return float(info["used_memory"])


async def _is(size: Any, wanted: int) -> bool:
    return bool(await size == wanted)


async def _less(size: Any, than: int) -> bool:
    return bool(await size < than)


async def _until(condition: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not reached within {within:.0f} s")
        await asyncio.sleep(0.005)  # polling Redis for the processor's progress


def bench_resting_suite(
    settings: Settings, resting: int = RESTING, rounds: int = ROUNDS, snipers: int = SNIPERS
) -> Any:
    """The `oee bench resting` suite."""
    return asyncio.run(bench_resting(settings, resting, rounds, snipers))
