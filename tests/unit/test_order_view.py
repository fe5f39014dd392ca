"""The order view: one rendering for a projected row and a folded state; exact decimal strings."""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson

from api.order_views import camel, render_order_row, render_recorded, render_state, to_json
from bench.sample_histories import build_histories
from eventlog.codec import Recorded
from projections.order_rows import ProjectedOrder, json_default, order_row
from schema.order_state import fold


def as_stored(row: dict[str, Any]) -> dict[str, Any]:
    """What PostgreSQL gives back: jsonb columns as parsed JSON, times in another zone."""
    stored = dict(row)
    for column in ("quotes", "route"):
        stored[column] = orjson.loads(orjson.dumps(row[column], default=json_default))
    for column in ("created_at", "updated_at", "confirmed_at", "expires_at"):
        if stored[column] is not None:
            stored[column] = stored[column].astimezone(timezone(timedelta(hours=5, minutes=30)))
    return stored


def test_a_projected_row_and_the_folded_state_render_the_same_order() -> None:
    events = build_histories(40, seed=3)
    by_order: dict[Any, list[Any]] = {}
    for event in events:
        by_order.setdefault(event.order_id, []).append(event)
    for history in by_order.values():
        state = fold(history)
        assert state is not None
        row = order_row(ProjectedOrder(state, history[-1].type, "1-0"))
        assert render_order_row(as_stored(row)) == render_state(state, "1-0")


def test_a_confirmed_order_has_every_field_of_the_api_in_camel_case_with_exact_amounts() -> None:
    events = build_histories(30, seed=4)
    confirmed = next(e.order_id for e in events if e.type == "OrderConfirmed")
    state = fold(e for e in events if e.order_id == confirmed)
    assert state is not None
    view = render_state(state)
    for field in (
        "id",
        "orderType",
        "status",
        "tokenIn",
        "tokenOut",
        "amountIn",
        "slippage",
        "quotes",
        "selectedDex",
        "amountOut",
        "minAmountOut",
        "executedPrice",
        "priceImpact",
        "fee",
        "txHash",
        "attempts",
        "errorCode",
        "errorMessage",
        "createdAt",
        "updatedAt",
        "confirmedAt",
    ):
        assert field in view
    assert view["status"] == "confirmed"
    assert Decimal(view["amountOut"]) == state.amount_out
    assert view["quotes"][0].keys() >= {"venue", "amountOut", "fee", "priceImpact"}
    assert view["createdAt"].endswith("Z")


def test_amounts_are_plain_decimal_strings_never_floats_or_exponents() -> None:
    assert to_json(Decimal("1E-7")) == "0.0000001"
    assert to_json(Decimal("1.50")) == "1.50"
    assert to_json({"amount_out": Decimal("2E+3")}) == {"amountOut": "2000"}
    assert camel("min_amount_out") == "minAmountOut"


def test_an_event_from_the_log_renders_with_the_status_it_leads_to() -> None:
    event = next(e for e in build_histories(5, seed=5) if e.type == "RouteSelected")
    view = render_recorded(Recorded("5-1", event))
    assert view["status"] == "building"
    assert view["data"]["expectedOut"] == str(event.payload.expected_out)
    assert view["position"] == "5-1"
