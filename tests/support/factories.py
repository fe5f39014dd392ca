"""Small builders of events for tests."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from schema.events import Event, OrderPlaced, RoutingStarted, new_event


def order_placed(order_id: uuid.UUID | None = None, **fields: Any) -> Event[OrderPlaced]:
    values: dict[str, Any] = {
        "order_type": "market",
        "token_in": "SOL",
        "token_out": "USDC",
        "amount_in": Decimal("1.5"),
        "slippage": Decimal("0.01"),
    }
    values.update(fields)
    return new_event(OrderPlaced(**values), order_id=order_id or uuid.uuid4(), sequence=1)


def routing_started(order_id: uuid.UUID, sequence: int, attempt: int = 1) -> Event[RoutingStarted]:
    return new_event(RoutingStarted(attempt=attempt), order_id=order_id, sequence=sequence)
