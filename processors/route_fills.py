"""Routes: one or more pool legs that together fill an order, priced the same way whether they are
a quote (before the swap) or a fill (what the swap script returned)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Literal

from processors.pools import LegFill, to_amount
from schema.events import Quote
from schema.tokens import get_token

RouteKind = Literal["direct", "split", "two-hop"]

_IMPACT_QUANTUM = Decimal("0.000001")
_PRICE_CONTEXT = Context(prec=12)


@dataclass(frozen=True, slots=True)
class RouteFill:
    """Legs of one route. Split legs sell parts of the order side by side; two-hop legs chain,
    each selling what the previous one bought."""

    kind: RouteKind
    legs: tuple[LegFill, ...]

    @property
    def token_in(self) -> str:
        return self.legs[0].token_in

    @property
    def token_out(self) -> str:
        return self.legs[-1].token_out

    @property
    def venue(self) -> str:
        venues = dict.fromkeys(leg.venue for leg in self.legs)
        return "+".join(venues)

    @property
    def amount_in(self) -> int:
        if self.kind == "split":
            return sum(leg.amount_in for leg in self.legs)
        return self.legs[0].amount_in

    @property
    def amount_out(self) -> int:
        if self.kind == "split":
            return sum(leg.amount_out for leg in self.legs)
        return self.legs[-1].amount_out

    @property
    def price_impact(self) -> Decimal:
        """How much less than the spot price gives, fees aside: 0.004 is 0.4 %."""
        if self.kind == "split":
            kept = Decimal(self.amount_out) / Decimal(sum(leg.ideal_out for leg in self.legs))
        else:
            kept = Decimal(1)
            for leg in self.legs:
                kept *= Decimal(leg.amount_out) / Decimal(leg.ideal_out)
        return max(Decimal(0), (1 - kept).quantize(_IMPACT_QUANTUM))

    @property
    def fee(self) -> Decimal:
        """Fees of every leg, in tokenIn (later legs' fees converted at the earlier legs' rate)."""
        total = Decimal(0)
        rate = Decimal(1)  # tokenIn units per unit of the current leg's input token
        for leg in self.legs:
            total += Decimal(leg.fee) * rate
            if self.kind == "two-hop":
                rate *= Decimal(leg.amount_in) / Decimal(leg.amount_out)
        token = get_token(self.token_in)
        return total.scaleb(-token.decimals).quantize(token.quantum, rounding=ROUND_HALF_EVEN)

    def executed_price(self) -> Decimal:
        """tokenOut per tokenIn, to 12 significant digits."""
        return _PRICE_CONTEXT.divide(
            to_amount(self.amount_out, self.token_out), to_amount(self.amount_in, self.token_in)
        )

    def to_quote(self) -> Quote:
        return Quote(
            venue=self.venue,
            route=self.kind,
            amount_out=to_amount(self.amount_out, self.token_out),
            fee=self.fee,
            price_impact=self.price_impact,
            legs=tuple(_leg_dict(leg) for leg in self.legs),
        )


@dataclass(frozen=True, slots=True)
class PlannedLeg:
    """A leg to execute: `amount_in` is None when it sells the previous leg's output."""

    venue: str
    pair: str
    token_in: str
    amount_in: int | None


def plan_from_quote(quote: Quote) -> tuple[RouteKind, tuple[PlannedLeg, ...]]:
    """The legs to execute for a recorded quote (e.g. the one chosen in RouteSelected)."""
    legs = []
    for index, leg in enumerate(quote.legs):
        chained = quote.route == "two-hop" and index > 0
        amount = None if chained else _units(leg["amount_in"], leg["token_in"])
        legs.append(PlannedLeg(leg["venue"], leg["pool"], leg["token_in"], amount))
    return quote.route, tuple(legs)


def split_share(route: RouteFill) -> str:
    """'62% raydium / 38% meteora' for a split route."""
    total = route.amount_in
    return " / ".join(f"{round(leg.amount_in * 100 / total)}% {leg.venue}" for leg in route.legs)


def _leg_dict(leg: LegFill) -> dict[str, str]:
    return {
        "venue": leg.venue,
        "pool": leg.pair,
        "token_in": leg.token_in,
        "token_out": leg.token_out,
        "amount_in": str(to_amount(leg.amount_in, leg.token_in)),
        "amount_out": str(to_amount(leg.amount_out, leg.token_out)),
        "fee": str(to_amount(leg.fee, leg.token_in)),
    }


def _units(amount: str, symbol: str) -> int:
    return int(Decimal(amount).scaleb(get_token(symbol).decimals))
