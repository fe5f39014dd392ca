"""Liquidity pools and their swap arithmetic, in integer base units (lamports and the like).

The same double operations, in the same order, as the swap script in `processors.market_scripts`:
a quote equals the fill exactly when the pool has not moved."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from processors.errors import ErrorCode
from schema.tokens import get_token

PoolKind = Literal["constant-product", "concentrated"]

# Real reserves stay below 2**53 so that doubles hold them exactly (the swap script refuses more).
MAX_RESERVE = 9007199254740991.0
# The variable part of a dynamic fee never exceeds one percent.
MAX_VARIABLE_FEE = 0.01
# The volatility accumulator saturates here.
MAX_VOLATILITY = 0.2


class LegRejectedError(ValueError):
    """A pool cannot fill a leg (too small after fees, or beyond its liquidity)."""

    def __init__(self, venue: str, pair: str, code: ErrorCode) -> None:
        self.venue = venue
        self.pair = pair
        self.code = code
        super().__init__(f"{venue} {pair}: {code}")


@dataclass(frozen=True, slots=True)
class Pool:
    """One pool: `reserve_*` are real token balances; `offset_*` add virtual depth (zero for
    constant-product), so concentrated liquidity is constant product over virtual reserves that
    runs dry at the edge of its price range."""

    venue: str
    pair: str  # "SOL/USDC": token a / token b
    kind: PoolKind
    reserve_a: int
    reserve_b: int
    fee: float
    offset_a: int = 0
    offset_b: int = 0
    dynamic_fee: float = 0.0  # how much of the volatility accumulator is charged on top of `fee`
    volatility: float = 0.0
    anchor: float = 0.0  # the price (b units per a unit) that drift reverts to

    @property
    def token_a(self) -> str:
        return self.pair.split("/")[0]

    @property
    def token_b(self) -> str:
        return self.pair.split("/")[1]

    @property
    def fee_rate(self) -> float:
        return self.fee + min(self.dynamic_fee * self.volatility, MAX_VARIABLE_FEE)

    @property
    def price(self) -> Decimal:
        """Spot price of token a in token b (e.g. USDC per SOL), in whole tokens."""
        virtual_a = Decimal(self.reserve_a + self.offset_a).scaleb(
            -get_token(self.token_a).decimals
        )
        virtual_b = Decimal(self.reserve_b + self.offset_b).scaleb(
            -get_token(self.token_b).decimals
        )
        return virtual_b / virtual_a

    def with_reserves(self, reserve_a: int, reserve_b: int) -> Pool:
        return replace(self, reserve_a=reserve_a, reserve_b=reserve_b)

    def to_fields(self) -> dict[str, str]:
        return {
            "venue": self.venue,
            "pair": self.pair,
            "kind": self.kind,
            "ra": str(self.reserve_a),
            "rb": str(self.reserve_b),
            "oa": str(self.offset_a),
            "ob": str(self.offset_b),
            "fee": repr(self.fee),
            "dyn": repr(self.dynamic_fee),
            "vol": repr(self.volatility),
            "anchor": repr(self.anchor or self._virtual_price()),
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes]) -> Pool:
        f = {k.decode(): v.decode() for k, v in fields.items()}
        kind: PoolKind = "concentrated" if f["kind"] == "concentrated" else "constant-product"
        return cls(
            venue=f["venue"],
            pair=f["pair"],
            kind=kind,
            reserve_a=int(f["ra"]),
            reserve_b=int(f["rb"]),
            offset_a=int(f["oa"]),
            offset_b=int(f["ob"]),
            fee=float(f["fee"]),
            dynamic_fee=float(f["dyn"]),
            volatility=float(f["vol"]),
            anchor=float(f["anchor"]),
        )

    def _virtual_price(self) -> float:
        return (self.reserve_b + self.offset_b) / (self.reserve_a + self.offset_a)


@dataclass(frozen=True, slots=True)
class LegFill:
    """What one pool gives for one leg: all amounts in base units."""

    venue: str
    pair: str
    token_in: str
    token_out: str
    amount_in: int
    fee: int
    amount_out: int
    ideal_out: int  # at the spot price, fee excluded: the yardstick of price impact


def fill_leg(pool: Pool, token_in: str, amount_in: int) -> LegFill:
    """The fill of selling `amount_in` units of `token_in` into `pool` as it stands."""
    a_to_b = token_in == pool.token_a
    x = float(amount_in)
    fee = math.ceil(x * (pool.fee + min(pool.dynamic_fee * pool.volatility, MAX_VARIABLE_FEE)))
    net = x - fee
    if a_to_b:
        vin = float(pool.reserve_a) + float(pool.offset_a)
        vout = float(pool.reserve_b) + float(pool.offset_b)
        real_in, real_out = float(pool.reserve_a), float(pool.reserve_b)
    else:
        vin = float(pool.reserve_b) + float(pool.offset_b)
        vout = float(pool.reserve_a) + float(pool.offset_a)
        real_in, real_out = float(pool.reserve_b), float(pool.reserve_a)
    if net <= 0:
        raise LegRejectedError(pool.venue, pool.pair, ErrorCode.AMOUNT_TOO_SMALL)
    out = math.floor(vout * net / (vin + net))
    ideal = math.floor(vout * net / vin)
    if out <= 0:
        raise LegRejectedError(pool.venue, pool.pair, ErrorCode.AMOUNT_TOO_SMALL)
    if out >= real_out or real_in + x > MAX_RESERVE:
        raise LegRejectedError(pool.venue, pool.pair, ErrorCode.INSUFFICIENT_LIQUIDITY)
    token_out = pool.token_b if a_to_b else pool.token_a
    return LegFill(pool.venue, pool.pair, token_in, token_out, amount_in, fee, out, ideal)


def to_units(amount: Decimal, symbol: str) -> int:
    """Whole tokens to base units, rounding down to the token's decimals."""
    return int(amount.scaleb(get_token(symbol).decimals).to_integral_value(ROUND_DOWN))


def to_amount(units: int, symbol: str) -> Decimal:
    """Base units to whole tokens, exactly."""
    return Decimal(units).scaleb(-get_token(symbol).decimals)
