"""Routing on a fixed snapshot of pools: the most tokenOut after fees wins; the reason says why."""

from __future__ import annotations

from decimal import Decimal

import pytest

from processors.errors import ErrorCode
from processors.initial_market import (
    METEORA,
    RAYDIUM,
    concentrated,
    constant_product,
    initial_pools,
)
from processors.market import PoolId
from processors.pools import Pool, fill_leg, to_amount, to_units
from processors.route_choice import RouteChoice, choose_route, min_amount_out


def _market(*pools: Pool) -> dict[PoolId, Pool]:
    return {(pool.venue, pool.pair): pool for pool in pools}


def _choose(pools: dict[PoolId, Pool], token_in: str, token_out: str, amount: str) -> RouteChoice:
    choice = choose_route(pools, token_in, token_out, to_units(Decimal(amount), token_in))
    assert isinstance(choice, RouteChoice), choice
    return choice


def _sol_usdc(
    raydium_price: str, meteora_price: str, *, meteora_depth: str = "3000000"
) -> dict[PoolId, Pool]:
    sol = Decimal(20_000)
    return _market(
        constant_product(RAYDIUM, "SOL/USDC", sol, sol * Decimal(raydium_price)),
        concentrated(METEORA, "SOL/USDC", Decimal(meteora_price), Decimal(meteora_depth), 0.10),
    )


@pytest.mark.parametrize(
    ("raydium_price", "meteora_price", "winner"),
    [("153", "150", RAYDIUM), ("150", "153", METEORA)],
)
def test_the_venue_with_the_better_price_is_chosen_and_every_venue_is_quoted(
    raydium_price: str, meteora_price: str, winner: str
) -> None:
    choice = _choose(_sol_usdc(raydium_price, meteora_price), "SOL", "USDC", "2")
    assert choice.chosen.kind == "direct"
    assert choice.chosen.venue == winner
    assert {c.venue for c in choice.candidates if c.kind == "direct"} == {RAYDIUM, METEORA}
    assert choice.chosen.amount_out == max(c.amount_out for c in choice.candidates)
    assert winner in choice.reason
    assert "gives the most" in choice.reason


def test_a_large_order_is_split_because_one_venue_alone_would_move_its_price_too_far() -> None:
    pools = _sol_usdc("150", "151.5", meteora_depth="400000")  # meteora 1 % better, but shallow
    small = _choose(pools, "SOL", "USDC", "5")
    large = _choose(pools, "SOL", "USDC", "4000")
    assert small.chosen.venue == METEORA
    assert large.chosen.kind == "split"
    assert {leg.venue for leg in large.chosen.legs} == {RAYDIUM, METEORA}
    best_single = max(c.amount_out for c in large.candidates if c.kind == "direct")
    assert large.chosen.amount_out > best_single
    assert "split" in large.reason
    assert large.chosen.legs[0].amount_in + large.chosen.legs[1].amount_in == to_units(
        Decimal(4000), "SOL"
    )


def test_an_order_beyond_one_venues_range_goes_to_the_other_venue_or_a_split() -> None:
    pools = _sol_usdc("150", "152", meteora_depth="50000")
    choice = _choose(pools, "SOL", "USDC", "5000")
    directs = {c.venue for c in choice.candidates if c.kind == "direct"}
    assert directs == {RAYDIUM}  # meteora alone cannot fill it: its range runs dry
    assert RAYDIUM in choice.chosen.venue


def test_bonk_to_jup_goes_through_sol_because_no_venue_has_a_direct_pool() -> None:
    choice = _choose(_market(*initial_pools(7)), "BONK", "JUP", "5000000")
    assert choice.chosen.kind == "two-hop"
    assert [leg.token_in for leg in choice.chosen.legs] == ["BONK", "SOL"]
    assert [leg.token_out for leg in choice.chosen.legs] == ["SOL", "JUP"]
    assert choice.chosen.legs[1].amount_in == choice.chosen.legs[0].amount_out
    assert all(c.kind == "two-hop" for c in choice.candidates)
    assert "no venue has a direct pool" in choice.reason
    # 5,000,000 BONK is worth about 105 USD; JUP is about 0.80 USD.
    assert Decimal(120) < to_amount(choice.chosen.amount_out, "JUP") < Decimal(140)


def test_a_pair_no_pool_connects_has_no_route() -> None:
    pools = _market(constant_product(RAYDIUM, "SOL/USDC", Decimal(100), Decimal(15_000)))
    assert choose_route(pools, "BONK", "JUP", 10**9) == ErrorCode.NO_ROUTE


def test_an_order_larger_than_every_pool_can_fill_is_refused_for_liquidity() -> None:
    pools = _market(concentrated(METEORA, "SOL/USDC", Decimal(150), Decimal(10_000), 0.05))
    assert choose_route(pools, "SOL", "USDC", to_units(Decimal(1000), "SOL")) == (
        ErrorCode.INSUFFICIENT_LIQUIDITY
    )


def test_the_quote_is_what_the_pool_gives_after_fees() -> None:
    pool = constant_product(RAYDIUM, "SOL/USDC", Decimal(1000), Decimal(150_000))
    leg = fill_leg(pool, "SOL", to_units(Decimal(1), "SOL"))
    assert to_amount(leg.fee, "SOL") == Decimal("0.0025")  # 0.25 %
    # x * R_out / (R_in + x) with x = 0.9975 SOL after the fee: 149.4758977919..., rounded down
    assert to_amount(leg.amount_out, "USDC") == Decimal("149.475897")


def test_min_amount_out_is_expected_less_slippage_rounded_down() -> None:
    assert min_amount_out(1_000_001, Decimal("0.01")) == 990_000
    assert min_amount_out(1_000_000, Decimal("0")) == 1_000_000
    assert min_amount_out(999, Decimal("0.5")) == 499
    assert min_amount_out(999, Decimal(1)) == 0  # the highest slippage accepted: any price
