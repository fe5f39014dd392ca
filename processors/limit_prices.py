"""What the market gives a resting limit order, on one snapshot of the pools: an upper bound on
the price of any route (the book's range read), then the exact fill of the order's whole size
(the decision). Pure functions, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal

from processors.errors import ErrorCode, ExecutionError
from processors.initial_market import VENUES
from processors.market import PoolId
from processors.pools import LegRejectedError, Pool, fill_leg, to_amount, to_units
from processors.route_choice import choose_route, find_pool
from schema.events import RouteSelected
from schema.tokens import NATIVE_SOL, get_token


def spot_out(pool: Pool, token_in: str) -> float:
    """Whole tokens out per whole token in at the pool's spot price, after its fee: no trade of
    any size gets more (price impact only takes away)."""
    price = float(pool.price)  # token b per token a
    per_unit = price if token_in == pool.token_a else 1 / price
    return per_unit * (1 - pool.fee_rate)


def price_bound(pools: Mapping[PoolId, Pool], token_in: str, token_out: str) -> float:
    """The most tokenOut per tokenIn any route could give now (0 when there is no route)."""

    best = 0.0
    for venue in VENUES:
        direct = find_pool(pools, venue, token_in, token_out)
        if direct is not None:
            best = max(best, spot_out(direct, token_in))
    if NATIVE_SOL not in (token_in, token_out):
        firsts = [p for v in VENUES if (p := find_pool(pools, v, token_in, NATIVE_SOL)) is not None]
        seconds = [
            p for v in VENUES if (p := find_pool(pools, v, NATIVE_SOL, token_out)) is not None
        ]
        for first in firsts:
            for second in seconds:
                best = max(best, spot_out(first, token_in) * spot_out(second, NATIVE_SOL))
    return best


def full_size_out(
    pools: Mapping[PoolId, Pool], token_in: str, token_out: str, amount_in: Decimal
) -> int | None:
    """Base units of tokenOut the best route gives for the whole amount, or None if none can."""
    units = to_units(amount_in, token_in)
    if units <= 0:
        return None
    choice = choose_route(pools, token_in, token_out, units)
    return None if isinstance(choice, ErrorCode) else choice.chosen.amount_out


def market_out(
    pools: Mapping[PoolId, Pool], token_in: str, token_out: str, amount_in: Decimal, wanted: int
) -> int | None:
    """What the market gives the whole amount, as far as it matters against `wanted`: the best
    direct pool's fill when that is enough (the router will do at least as well), else the best
    route's (a split or two hops may do better)."""
    units = to_units(amount_in, token_in)
    best = 0
    for venue in VENUES:
        pool = find_pool(pools, venue, token_in, token_out)
        if pool is not None:
            try:
                best = max(best, fill_leg(pool, token_in, units).amount_out)
            except LegRejectedError:
                continue
    if best >= wanted:
        return best
    return full_size_out(pools, token_in, token_out, amount_in)


def limit_units(amount_in: Decimal, limit_price: Decimal, token_out: str) -> int:
    """amountIn * limitPrice in base units of tokenOut, rounded up: the least the order takes."""
    wanted = (amount_in * limit_price).scaleb(get_token(token_out).decimals)
    return int(wanted.to_integral_value(ROUND_CEILING))


def at_limit(
    order_id: uuid.UUID,
    selected: RouteSelected,
    amount_in: Decimal,
    limit_price: Decimal,
    token_out: str,
) -> RouteSelected:
    """A limit order's route: it must give amountIn * limitPrice, which is its minAmountOut; a
    route below that is the market having moved back (SLIPPAGE_EXCEEDED: the order rests again)."""
    floor = to_amount(limit_units(amount_in, limit_price, token_out), token_out)
    if selected.expected_out < floor:
        message = (
            f"the best route gives {selected.expected_out} {token_out}, below the limit's {floor}"
        )
        raise ExecutionError(order_id, ErrorCode.SLIPPAGE_EXCEEDED, message)
    return selected.model_copy(update={"min_amount_out": floor})
