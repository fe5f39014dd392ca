"""Rescuing a poison order's fill: when an order's entry is dead-lettered after a submission of it
filled, the order ends confirmed with that fill rather than failed."""

from __future__ import annotations

from typing import Any

from processors.pools import to_amount
from processors.route_fills import plan_from_quote
from processors.venues import fill_from_result
from schema.events import Event, OrderConfirmed, Payload
from schema.order_state import fold
from schema.statuses import OrderStatus


def rescued_confirmation(
    history: list[Event[Payload]], fill: dict[str, Any] | None
) -> OrderConfirmed | None:
    """The OrderConfirmed for a fill the venue recorded, if the history can still take one."""
    if fill is None:
        return None
    try:
        state = fold(history)
    except ValueError:  # a history that does not fold is what made the entry poison
        return None
    if state is None or state.status != OrderStatus.SUBMITTED or state.route is None:
        return None
    kind, legs = plan_from_quote(state.route)
    route = fill_from_result(state.id, kind, legs, fill)
    return OrderConfirmed(
        attempt=int(fill["attempt"]),
        tx_hash=fill["tx_hash"],
        venue=route.venue,
        amount_out=to_amount(route.amount_out, state.token_out),
        executed_price=route.executed_price(),
        fee=route.fee,
        price_impact=route.price_impact,
    )
