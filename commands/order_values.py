"""The values an order may carry, as one rule: amounts, slippage and prices are plain ASCII
decimals (a JSON number, or a string such as "1.50", kept exactly as written) within bounds that
every store and every later step takes; and the same rule as JSON Schema for `/openapi.json`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

MAX_AMOUNT = Decimal("1000000000000")  # 10^12 whole tokens: far beyond any real pool
# As in the original: up to 1. A slippage of 1 makes minAmountOut 0 ("any price"), which a client
# may ask for only explicitly: the server's default (SLIPPAGE_TOLERANCE) stays at most 0.5.
MAX_SLIPPAGE = Decimal(1)
# How long a limit order rests unless it says otherwise, and the longest it may.
DEFAULT_EXPIRY_SECONDS = 24 * 3600
MAX_EXPIRY_SECONDS = 30 * 24 * 3600
# Places after the point that slippage and limit prices may have: every store and every later step
# (PostgreSQL numeric, JSON, the venue maths) takes such values exactly.
MAX_SLIPPAGE_DECIMALS = 9
MAX_PRICE_DECIMALS = 18
MAX_PRICE = Decimal("1000000000000")
# A decimal as a client writes it: ASCII digits, an optional sign and fraction; no exponent,
# no underscores, no other scripts' digits, no spaces.
UNSIGNED_DECIMAL = r"[0-9]+(\.[0-9]+)?"
_PLAIN_DECIMAL = re.compile(rf"-?{UNSIGNED_DECIMAL}", re.ASCII)
MAX_DIGITS = 64


def decimal_schema(
    *, maximum: Decimal, places: int, exclusive_minimum: bool, nullable: bool = False
) -> dict[str, Any]:
    """The JSON Schema of a decimal field `plain_decimal` takes: a JSON number or a plain decimal
    string with at most `places` decimals, from 0 (excluded or not) to `maximum`. The rest is
    the validators' own (a string's value is not bounded by JSON Schema)."""
    low = {"exclusiveMinimum": 0} if exclusive_minimum else {"minimum": 0}
    kinds: list[dict[str, Any]] = [
        {"type": "number", **low, "maximum": int(maximum)},
        {
            "type": "string",
            "pattern": rf"^[0-9]+(\.[0-9]{{1,{places}}})?$",
            "maxLength": MAX_DIGITS,
        },
    ]
    if nullable:
        kinds.append({"type": "null"})
    return {"anyOf": kinds}


def plain_decimal(value: Any) -> Decimal:
    """A JSON number or a plain decimal string, exactly; anything else is refused. The value
    keeps how it was written ("1.50" stays 1.50); each field bounds its `decimal_places`."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValueError("must be a number or a decimal string")
    if isinstance(value, str):
        if len(value) > MAX_DIGITS or not _PLAIN_DECIMAL.fullmatch(value):
            raise ValueError("must be a plain decimal such as 1.5 (ASCII digits, no exponent)")
        return Decimal(value)
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError("must be a finite number")
    digits, exponent = len(number.as_tuple().digits), number.as_tuple().exponent
    assert isinstance(exponent, int)
    if digits > MAX_DIGITS or not -MAX_DIGITS <= exponent <= MAX_DIGITS:
        raise ValueError("has too many digits")
    return number


def decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: checked by plain_decimal
    return max(0, -exponent)
