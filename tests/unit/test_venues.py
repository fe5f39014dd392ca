"""The simulated venues without Redis: pool arithmetic, the seeded market, transactions, errors."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from processors.errors import ErrorCode, ExecutionError
from processors.initial_market import (
    METEORA,
    RAYDIUM,
    concentrated,
    constant_product,
    initial_pools,
)
from processors.pools import LegRejectedError, fill_leg, to_amount, to_units
from processors.route_fills import RouteFill
from processors.transactions import transaction_hash, transaction_steps


def test_bigger_orders_get_a_worse_price_on_a_constant_product_pool() -> None:
    pool = constant_product(RAYDIUM, "SOL/USDC", Decimal(10_000), Decimal(1_500_000))
    impacts = [
        RouteFill("direct", (fill_leg(pool, "SOL", to_units(Decimal(size), "SOL")),)).price_impact
        for size in ("1", "100", "1000")
    ]
    assert impacts[0] < Decimal("0.001") < impacts[1] < impacts[2]
    assert Decimal("0.08") < impacts[2] < Decimal("0.10")  # 10 % of the pool moves it about 9 %


def test_concentrated_liquidity_is_deeper_near_the_price_and_runs_dry_at_its_edge() -> None:
    flat = constant_product(RAYDIUM, "SOL/USDC", Decimal(10_000), Decimal(1_500_000))
    focused = concentrated(METEORA, "SOL/USDC", Decimal(150), Decimal(3_000_000), 0.05)
    size = to_units(Decimal(200), "SOL")
    assert fill_leg(focused, "SOL", size).amount_out > fill_leg(flat, "SOL", size).amount_out
    with pytest.raises(LegRejectedError) as caught:
        fill_leg(focused, "SOL", to_units(Decimal(20_000), "SOL"))
    assert caught.value.code == ErrorCode.INSUFFICIENT_LIQUIDITY


def test_meteora_charges_more_after_volatility() -> None:
    calm = concentrated(METEORA, "SOL/USDC", Decimal(150), Decimal(3_000_000), 0.1)
    stormy = concentrated(METEORA, "SOL/USDC", Decimal(150), Decimal(3_000_000), 0.1)
    stormy = type(stormy)(
        **{**{f: getattr(stormy, f) for f in stormy.__slots__}, "volatility": 0.01}
    )
    size = to_units(Decimal(10), "SOL")
    assert fill_leg(stormy, "SOL", size).fee > fill_leg(calm, "SOL", size).fee


def test_the_seeded_market_has_realistic_prices_and_venues_a_little_apart() -> None:
    pools = {(p.venue, p.pair): p for p in initial_pools(7)}
    assert pools == {(p.venue, p.pair): p for p in initial_pools(7)}  # reproducible
    assert pools != {(p.venue, p.pair): p for p in initial_pools(8)}
    for pair in ("SOL/USDC", "SOL/USDT", "USDC/USDT", "SOL/BONK", "SOL/JUP"):
        assert (RAYDIUM, pair) in pools
        assert (METEORA, pair) in pools
    assert (RAYDIUM, "SOL/RAY") in pools
    for venue in (RAYDIUM, METEORA):
        assert Decimal(145) < pools[(venue, "SOL/USDC")].price < Decimal(155)
    gap = abs(pools[(RAYDIUM, "SOL/USDC")].price / pools[(METEORA, "SOL/USDC")].price - 1)
    assert gap < Decimal("0.03")


def test_amounts_are_exact_and_never_finer_than_the_token_allows() -> None:
    assert to_units(Decimal("1.0000000019"), "SOL") == 1_000_000_001
    assert to_amount(1_000_000_001, "SOL") == Decimal("1.000000001")
    assert to_amount(5, "USDC") == Decimal("0.000005")


def test_building_wraps_sol_on_the_way_in_and_unwraps_it_on_the_way_out() -> None:
    pool = constant_product(RAYDIUM, "SOL/USDC", Decimal(1000), Decimal(150_000))
    sell_sol = RouteFill("direct", (fill_leg(pool, "SOL", 10**9),)).to_quote()
    steps = transaction_steps(sell_sol, "SOL", "USDC", Decimal(1), Decimal(140))
    assert "wrap 1 SOL into wSOL" in steps
    assert not any("unwrap" in step for step in steps)
    buy_sol = RouteFill("direct", (fill_leg(pool, "USDC", 150 * 10**6),)).to_quote()
    steps = transaction_steps(buy_sol, "USDC", "SOL", Decimal(150), Decimal("0.9"))
    assert any(step.startswith("unwrap wSOL") for step in steps)
    assert not any(step.startswith("wrap") for step in steps)


def test_the_transaction_hash_is_fixed_by_order_and_attempt() -> None:
    order_id = uuid.uuid4()
    first = transaction_hash(order_id, 1)
    assert first == transaction_hash(order_id, 1)
    assert first != transaction_hash(order_id, 2)
    assert 80 <= len(first) <= 90
    assert set(first) <= set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (ErrorCode.TX_FAILED_TO_LAND, True),
        (ErrorCode.RPC_TIMEOUT, True),
        (ErrorCode.QUOTE_EXPIRED, True),
        (ErrorCode.SLIPPAGE_EXCEEDED, False),
        (ErrorCode.NO_ROUTE, False),
        (ErrorCode.INSUFFICIENT_LIQUIDITY, False),
    ],
)
def test_errors_say_whether_a_fresh_attempt_could_succeed(code: ErrorCode, retryable: bool) -> None:
    order_id = uuid.uuid4()
    error = ExecutionError(order_id, code)
    assert error.retryable is retryable
    assert str(order_id) in str(error)
    assert code in str(error)
