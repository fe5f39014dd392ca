"""Exactly once under SIGKILL: a processor process killed mid-swap with many orders in flight is
replaced by another that finishes every order, each with one terminal event and at most one fill."""

from __future__ import annotations

import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis.asyncio as aioredis

from eventlog.append import AppendRequest, EventAppender
from eventlog.keys import EXECUTION_GROUP, Keys
from processors.market import Market
from processors.pools import Pool, to_units
from tests.support.factories import order_placed
from tests.support.polling import eventually
from tests.support.processor_processes import no_pending, processor_process, timelines
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {b"OrderConfirmed", b"OrderFailed", b"OrderCancelled", b"OrderExpired"}
ORDERS = 200


def _balances(pools: list[Pool]) -> Counter[str]:
    held: Counter[str] = Counter()
    for pool in pools:
        held[pool.token_a] += pool.reserve_a
        held[pool.token_b] += pool.reserve_b
    return held


def _orders() -> list[Any]:
    shapes = [
        ("SOL", "USDC", "2.5"),
        ("USDC", "SOL", "400"),
        ("BONK", "JUP", "30000000"),
        ("USDT", "SOL", "900"),
        ("SOL", "USDC", "400"),  # large enough to split across venues
        ("USDC", "SOL", "60000"),
        ("JUP", "RAY", "700"),
    ]
    return [
        order_placed(
            token_in=t_in,
            token_out=t_out,
            amount_in=Decimal(amount) + n % 7,
            slippage=Decimal("0.05"),
        )
        for n, (t_in, t_out, amount) in ((n, shapes[n % len(shapes)]) for n in range(ORDERS))
    ]


async def test_sigkill_mid_swap_loses_nothing_and_fills_nothing_twice(
    redis: aioredis.Redis, keys: Keys, make_settings: MakeSettings, tmp_path: Path
) -> None:
    settings = make_settings(
        venue_swap_latency_min_ms=100,
        venue_swap_latency_max_ms=400,
        venue_failure_rate=0.05,
        venue_drift_bps=0,
        venue_arbitrage_share=0,
        max_concurrent_orders=60,
        max_orders_per_minute=0,
        consumer_claim_idle_ms=1000,
        retry_base_delay_ms=10,
        retry_max_delay_ms=50,
        log_level="WARNING",
    )
    market = Market(redis, keys, settings)
    await market.seed()
    before = _balances(await market.all_pools())
    events = _orders()

    with processor_process(settings, "doomed", tmp_path / "doomed.log") as doomed:
        await eventually(
            lambda: redis.exists(keys.health(EXECUTION_GROUP, "doomed")),
            within=30,
            what="the first processor is up",
        )
        await EventAppender(redis, keys).append_many([AppendRequest([e], 0) for e in events])

        async def mid_swap() -> dict[bytes, list[tuple[bytes, bytes]]]:
            orders = await timelines(redis, keys)
            done = sum(1 for t in orders.values() if t[-1][0] in TERMINAL)
            swapping = sum(1 for t in orders.values() if t[-1][0] == b"TransactionSubmitted")
            return orders if done >= 20 and swapping >= 20 else {}

        await eventually(mid_swap, within=30, what="many orders mid-swap")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    at_kill = await timelines(redis, keys)
    cut_short = {order for order, t in at_kill.items() if t[-1][0] not in TERMINAL}
    mid_submit = {order for order, t in at_kill.items() if t[-1][0] == b"TransactionSubmitted"}
    assert len(cut_short) >= 20, "the kill did not interrupt enough orders to mean anything"

    with processor_process(settings, "heir", tmp_path / "heir.log") as heir:

        async def all_ended() -> dict[bytes, list[tuple[bytes, bytes]]]:
            orders = await timelines(redis, keys)
            ended = [t for t in orders.values() if any(kind in TERMINAL for kind, _ in t)]
            return orders if len(ended) == ORDERS else {}

        final = await eventually(all_ended, within=60, what="every order ended")
        await eventually(no_pending(redis, keys), within=10, what="nothing pending")
        heir.send_signal(signal.SIGTERM)
        assert heir.wait(timeout=15) == 0  # a clean stop

    placed = {str(e.order_id).encode(): e.payload for e in events}
    flows: Counter[str] = Counter()
    for order_id, timeline in final.items():
        kinds = [kind for kind, _ in timeline]
        assert sum(kind in TERMINAL for kind in kinds) == 1, (order_id, kinds)
        assert kinds[-1] in TERMINAL
        attempts = [
            orjson.loads(data)["payload"]["attempt"]
            for kind, data in timeline
            if kind == b"TransactionSubmitted"
        ]
        assert len(attempts) == len(set(attempts)), "an attempt was submitted twice"
        if kinds[-1] == b"OrderConfirmed":
            confirmed = orjson.loads(timeline[-1][1])["payload"]
            order = placed[order_id]
            flows[order.token_in] += to_units(order.amount_in, order.token_in)
            flows[order.token_out] -= to_units(Decimal(confirmed["amount_out"]), order.token_out)
    # What the pools gained and lost is exactly what confirmed orders sold and bought: no order
    # filled twice, and no failed order filled at all.
    after = _balances(await market.all_pools())
    assert {t: after[t] - before[t] for t in before} == {t: flows[t] for t in before}
    resumed = [o for o in mid_submit if final[o][-1][0] == b"OrderConfirmed"]
    assert resumed, "no order cut short mid-swap was confirmed by the second processor"
    outcomes = Counter(
        orjson.loads(t[-1][1])["payload"].get("error_code", "confirmed") for t in final.values()
    )
    assert outcomes["confirmed"] >= ORDERS * 0.8, outcomes
    # Failures are the market's doing (prices moved by the other orders), never the crash's.
    assert set(outcomes) <= {"confirmed", "SLIPPAGE_EXCEEDED", "TX_FAILED_TO_LAND", "RPC_TIMEOUT"}
