"""Routing: price every way to fill an order (each venue, a split across venues, two hops via SOL)
on one snapshot of the pools and choose the most tokenOut after fees.
`choose_route` is pure: the same pools and order always give the same choice and reason."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from processors.errors import ErrorCode, ExecutionError
from processors.initial_market import VENUES
from processors.market import PoolId
from processors.pools import LegRejectedError, Pool, fill_leg, to_amount, to_units
from processors.route_fills import RouteFill, split_share
from processors.venues import Venues
from schema.events import RouteSelected
from schema.tokens import NATIVE_SOL, TOKENS

# A route with more legs must beat the best simpler one by this much (1 bp), else the simpler wins:
# fewer legs, fewer ways to fail, for a difference no one would notice.
MORE_LEGS_MIN_GAIN = Decimal("0.0001")
# Split legs smaller than this share of the order are not worth a second leg.
MIN_SPLIT_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class RouteChoice:
    candidates: tuple[RouteFill, ...]
    chosen: RouteFill
    reason: str


def pools_for(token_in: str, token_out: str) -> list[PoolId]:
    """Every pool a route between these tokens could use (a pool may be named either way round;
    only those that exist are found)."""
    wanted: list[PoolId] = []
    hops = [(token_in, token_out)]
    if NATIVE_SOL not in (token_in, token_out):
        hops += [(token_in, NATIVE_SOL), (NATIVE_SOL, token_out)]
    for venue in VENUES:
        for x, y in hops:
            wanted += [(venue, f"{x}/{y}"), (venue, f"{y}/{x}")]
    return wanted


def find_pool(pools: Mapping[PoolId, Pool], venue: str, token_x: str, token_y: str) -> Pool | None:
    """The venue's pool of these two tokens, whichever way round it is named."""
    return pools.get((venue, f"{token_x}/{token_y}")) or pools.get((venue, f"{token_y}/{token_x}"))


def choose_route(
    pools: Mapping[PoolId, Pool], token_in: str, token_out: str, amount_in: int
) -> RouteChoice | ErrorCode:
    """The best route for selling `amount_in` units, or why there is none."""
    rejected: list[ErrorCode] = []

    directs: list[RouteFill] = []
    direct_pools = [
        p for v in VENUES if (p := find_pool(pools, v, token_in, token_out)) is not None
    ]
    for pool in direct_pools:
        try:
            directs.append(RouteFill("direct", (fill_leg(pool, token_in, amount_in),)))
        except LegRejectedError as exc:
            rejected.append(exc.code)
    others: list[RouteFill] = []
    # A split gains at most the price impact it spreads: not worth pricing for small orders.
    small = len(directs) == 2 and max(d.price_impact for d in directs) < MORE_LEGS_MIN_GAIN / 2
    if len(direct_pools) == 2 and not small:
        split = _best_split(direct_pools[0], direct_pools[1], token_in, amount_in)
        if split is not None:
            others.append(split)
    if NATIVE_SOL not in (token_in, token_out):
        for first_venue in VENUES:
            for second_venue in VENUES:
                first = find_pool(pools, first_venue, token_in, NATIVE_SOL)
                second = find_pool(pools, second_venue, NATIVE_SOL, token_out)
                if first is None or second is None:
                    continue
                try:
                    leg1 = fill_leg(first, token_in, amount_in)
                    leg2 = fill_leg(second, NATIVE_SOL, leg1.amount_out)
                except LegRejectedError as exc:
                    rejected.append(exc.code)
                    continue
                others.append(RouteFill("two-hop", (leg1, leg2)))
    candidates = tuple(directs + others)
    if not candidates:
        if not rejected:
            return ErrorCode.NO_ROUTE
        if ErrorCode.INSUFFICIENT_LIQUIDITY in rejected:
            return ErrorCode.INSUFFICIENT_LIQUIDITY
        return rejected[0]
    chosen = max(directs, key=lambda r: r.amount_out) if directs else None
    for route in sorted(others, key=lambda r: r.amount_out, reverse=True):
        if chosen is None or route.amount_out > chosen.amount_out * (1 + MORE_LEGS_MIN_GAIN):
            chosen = route
        break
    assert chosen is not None
    return RouteChoice(candidates, chosen, _reason(chosen, candidates, token_out))


def min_amount_out(expected: int, slippage: Decimal) -> int:
    """expected * (1 - slippage), rounded down to whole base units."""
    return int((Decimal(expected) * (1 - slippage)).to_integral_value(ROUND_FLOOR))


def route_selected(
    order_id: uuid.UUID,
    attempt: int,
    pools: Mapping[PoolId, Pool],
    token_in: str,
    token_out: str,
    amount_in: Decimal,
    slippage: Decimal,
) -> RouteSelected:
    """The route an attempt takes on these pools, with every quote it compared; raises
    ExecutionError (NO_ROUTE, AMOUNT_TOO_SMALL, INSUFFICIENT_LIQUIDITY, ...) when there is none."""
    _check_pair(order_id, token_in, token_out)
    units = to_units(amount_in, token_in)
    if units <= 0:
        raise ExecutionError(order_id, ErrorCode.AMOUNT_TOO_SMALL)
    choice = choose_route(pools, token_in, token_out, units)
    if isinstance(choice, ErrorCode):
        raise ExecutionError(order_id, choice)
    expected = choice.chosen.amount_out
    quotes = tuple(route.to_quote() for route in choice.candidates)
    chosen = next(q for c, q in zip(choice.candidates, quotes, strict=True) if c is choice.chosen)
    return RouteSelected(
        attempt=attempt,
        quotes=quotes,
        chosen=chosen,
        expected_out=to_amount(expected, token_out),
        min_amount_out=to_amount(min_amount_out(expected, slippage), token_out),
        reason=choice.reason,
    )


def _check_pair(order_id: uuid.UUID, token_in: str, token_out: str) -> None:
    if token_in not in TOKENS or token_out not in TOKENS or token_in == token_out:
        raise ExecutionError(
            order_id, ErrorCode.NO_ROUTE, f"no route from {token_in} to {token_out}"
        )


class Router:
    def __init__(self, venues: Venues) -> None:
        self._venues = venues

    async def route(
        self,
        order_id: uuid.UUID,
        attempt: int,
        token_in: str,
        token_out: str,
        amount_in: Decimal,
        slippage: Decimal,
    ) -> RouteSelected:
        """Quote the venues (after their quote latency) and choose the route."""
        _check_pair(order_id, token_in, token_out)
        pools = await self._venues.quote_pools(pools_for(token_in, token_out))
        return route_selected(order_id, attempt, pools, token_in, token_out, amount_in, slippage)


def _best_split(first: Pool, second: Pool, token_in: str, total: int) -> RouteFill | None:
    """Sell part of the order on each pool, where the two pools' marginal prices meet."""
    low = max(math.ceil(total * MIN_SPLIT_SHARE), total - _capacity(second, token_in, total))
    high = min(total - math.ceil(total * MIN_SPLIT_SHARE), _capacity(first, token_in, total))
    if low > high:
        return None
    meet = min(high, max(low, _marginal_meeting_point(first, second, token_in, total)))
    best: RouteFill | None = None
    for amount in {meet, max(low, meet - total // 200), min(high, meet + total // 200)}:
        try:
            legs = (fill_leg(first, token_in, amount), fill_leg(second, token_in, total - amount))
        except LegRejectedError:
            continue
        route = RouteFill("split", legs)
        if best is None or route.amount_out > best.amount_out:
            best = route
    return best


def _marginal_meeting_point(first: Pool, second: Pool, token_in: str, total: int) -> int:
    """Where d(out)/d(in) is equal on both pools, treating each as constant product over its
    virtual reserves: x1 = (s1 (R2 + g2 X) - s2 R1) / (s2 g1 + s1 g2), s = sqrt(g R_in R_out)."""
    (r1, o1, g1), (r2, o2, g2) = (_curve(first, token_in), _curve(second, token_in))
    s1, s2 = math.sqrt(g1 * r1 * o1), math.sqrt(g2 * r2 * o2)
    return round((s1 * (r2 + g2 * total) - s2 * r1) / (s2 * g1 + s1 * g2))


def _curve(pool: Pool, token_in: str) -> tuple[float, float, float]:
    """(virtual reserve in, virtual reserve out, share kept after the fee)."""
    va = float(pool.reserve_a + pool.offset_a)
    vb = float(pool.reserve_b + pool.offset_b)
    pair = (va, vb) if token_in == pool.token_a else (vb, va)
    return pair[0], pair[1], 1 - pool.fee_rate


def _capacity(pool: Pool, token_in: str, total: int) -> int:
    """The most of `total` the pool can take (concentrated pools run dry at their range's edge)."""
    try:
        fill_leg(pool, token_in, total)
        return total
    except LegRejectedError:
        pass
    low, high = 0, total  # fills at low (or low is 0), not at high
    while high - low > max(1, total // 10_000):
        middle = (low + high) // 2
        try:
            fill_leg(pool, token_in, middle)
            low = middle
        except LegRejectedError:
            high = middle
    return low


def _reason(chosen: RouteFill, candidates: tuple[RouteFill, ...], token_out: str) -> str:
    how = {
        "direct": f"{chosen.venue} direct",
        "split": f"split {split_share(chosen)}",
        "two-hop": f"two hops via SOL ({' then '.join(leg.venue for leg in chosen.legs)})",
    }[chosen.kind]
    out = to_amount(chosen.amount_out, token_out)
    text = f"{how} gives the most: {out} {token_out} after fees"
    rivals = [c for c in candidates if c is not chosen]
    if rivals:
        runner = max(rivals, key=lambda r: r.amount_out)
        gap = Decimal(chosen.amount_out - runner.amount_out) / Decimal(runner.amount_out) * 100
        runner_how = runner.venue if runner.kind == "direct" else f"{runner.kind} {runner.venue}"
        text += (
            f", {gap:.2f}% more than {runner_how} ({to_amount(runner.amount_out, token_out)})"
            if gap >= 0
            else f"; {runner_how} gives {to_amount(runner.amount_out, token_out)} but has more legs"
        )
    if chosen.kind == "split":
        text += f"; price impact {chosen.price_impact * 100:.2f}% spread over both venues"
    if chosen.kind == "two-hop" and not any(c.kind == "direct" for c in candidates):
        text += "; no venue has a direct pool for this pair"
    return text
