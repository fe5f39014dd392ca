"""The checks of an order that look at several fields together: listed tokens, amounts within
their token's decimals, and the fields each order type takes (and refuses)."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from commands.order_values import decimal_places
from schema.tokens import TOKENS

# Fields a check's message names first, in this order: the field an error is reported under.
FIELDS_NAMED_IN_CHECKS = (
    "limitPrice",
    "minLiquidity",
    "expiresInSeconds",
    "amountIn",
    "tokenIn",
    "tokenOut",
)


class OrderFields(Protocol):
    @property
    def order_type(self) -> str: ...
    @property
    def token_in(self) -> str: ...
    @property
    def token_out(self) -> str: ...
    @property
    def amount_in(self) -> Decimal: ...
    @property
    def limit_price(self) -> Decimal | None: ...
    @property
    def expires_in_seconds(self) -> int | None: ...
    @property
    def min_liquidity(self) -> Decimal | None: ...


def _unknown(symbol: str, field: str) -> ValueError:
    return ValueError(f"unknown token {symbol!r} for {field}; known tokens: {', '.join(TOKENS)}")


def check_order_fields(order: OrderFields) -> None:
    """Raise ValueError naming the first field that does not fit the others."""
    if order.token_in == order.token_out:
        raise ValueError("tokenIn and tokenOut must differ")
    token = TOKENS.get(order.token_in)
    if token is None:
        raise _unknown(order.token_in, "tokenIn")
    if order.token_out not in TOKENS and order.order_type != "sniper":
        raise _unknown(order.token_out, "tokenOut")
    if decimal_places(order.amount_in) > token.decimals:
        raise ValueError(f"amountIn has more than {token.decimals} decimals for {token.symbol}")
    kind = order.order_type
    if kind == "limit" and order.limit_price is None:
        raise ValueError("limitPrice is required for a limit order")
    if kind != "limit" and order.limit_price is not None:
        raise ValueError(f"limitPrice is for limit orders; a {kind} order takes the market price")
    if kind == "market" and order.expires_in_seconds is not None:
        raise ValueError("expiresInSeconds is for limit and sniper orders; a market order runs now")
    if order.min_liquidity is not None:
        if kind != "sniper":
            raise ValueError("minLiquidity is for sniper orders")
        if order.min_liquidity.is_signed():
            raise ValueError("minLiquidity must be at least 0")
        if decimal_places(order.min_liquidity) > token.decimals:
            raise ValueError(
                f"minLiquidity has more than {token.decimals} decimals for {token.symbol}"
            )
