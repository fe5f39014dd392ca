"""The rule for amounts and percentages, as properties: every plain decimal the parser accepts
comes back exactly as written, and each class of value it refuses is refused naming its field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.place_order import CommandRejectedError, parse_place_order

BASE = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}


def _refused_field(body: dict[str, object]) -> list[str]:
    with pytest.raises(CommandRejectedError) as refused:
        parse_place_order(body)
    return [detail["field"] for detail in refused.value.details]


@given(
    whole=st.integers(min_value=0, max_value=10**9),
    fraction=st.text(alphabet="0123456789", min_size=0, max_size=9),
)
def test_a_plain_amount_within_the_token_decimals_is_kept_exactly(
    whole: int, fraction: str
) -> None:
    written = f"{whole}.{fraction}" if fraction else str(whole)
    if Decimal(written) == 0:
        return
    command = parse_place_order({**BASE, "amountIn": written})
    assert str(command.amount_in) == written  # as written: no rounding, no exponent


@given(st.decimals(min_value=0, max_value=1, places=9, allow_nan=False))
def test_a_slippage_from_0_to_1_with_up_to_9_decimals_is_kept_exactly(value: Decimal) -> None:
    written = format(value, "f")
    if written.startswith("-"):
        return
    command = parse_place_order({**BASE, "slippage": written})
    assert command.slippage is not None
    assert format(command.slippage, "f") == written


@given(
    st.one_of(
        st.from_regex(r"\A[0-9]+[eE][+-]?[0-9]+\Z"),  # exponents
        st.from_regex(r"\A[0-9]+_[0-9]+\Z"),  # underscores
        st.from_regex(r"\A\s+[0-9]+\Z|\A[0-9]+\s+\Z"),  # spaces around
        st.text(alphabet="\u0660\u0661\u06f1\u0966\uff11\u00b2", min_size=1, max_size=5),
        st.sampled_from(["Infinity", "NaN", "-0", "+1", "1.", ".5", "0x10", ""]),
    )
)
def test_anything_but_a_plain_decimal_is_refused_naming_the_field(written: str) -> None:
    assert "slippage" in _refused_field({**BASE, "slippage": written})


@given(st.integers(min_value=10, max_value=5_000))
def test_a_slippage_with_more_than_9_decimals_is_refused(places: int) -> None:
    assert "slippage" in _refused_field({**BASE, "slippage": "0." + "0" * (places - 1) + "1"})


@given(st.text(min_size=1, max_size=6).filter(lambda t: not t.isascii()))
def test_a_token_that_is_not_ascii_is_never_taken_for_a_listed_one(symbol: str) -> None:
    assert "tokenIn" in _refused_field({**BASE, "tokenIn": symbol})
