"""The mapping between an order's folded state and its read-model rows, both ways.

Columns of `orders` are the fields of `schema.order_state.OrderState`, so a row loads back into the
very state it was written from (decimals and times exact) and the fold can go on from it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

from eventlog.codec import Recorded
from schema.events import Event, Payload, Quote, event_from_dict
from schema.order_state import OrderState
from schema.statuses import STATUS_AFTER_EVENT, OrderStatus

STATE_FIELDS = tuple(f.name for f in dataclasses.fields(OrderState))

# Column types of `orders` for jsonb_to_recordset, in the table's terms.
ORDER_COLUMN_TYPES: dict[str, str] = {
    "id": "uuid",
    "sequence": "integer",
    "status": "text",
    "order_type": "text",
    "token_in": "text",
    "token_out": "text",
    "amount_in": "numeric",
    "slippage": "numeric",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "limit_price": "numeric",
    "expires_at": "timestamptz",
    "client_id": "text",
    "correlation_id": "uuid",
    "quotes": "jsonb",
    "route": "jsonb",
    "selected_dex": "text",
    "expected_out": "numeric",
    "min_amount_out": "numeric",
    "amount_out": "numeric",
    "executed_price": "numeric",
    "price_impact": "numeric",
    "fee": "numeric",
    "tx_hash": "text",
    "attempts": "integer",
    "error_code": "text",
    "error_message": "text",
    "confirmed_at": "timestamptz",
    "last_event_type": "text",
    "last_position": "text",
}

EVENT_COLUMN_TYPES: dict[str, str] = {
    "order_id": "uuid",
    "sequence": "integer",
    "position": "text",
    "event_id": "uuid",
    "type": "text",
    "status": "text",
    "occurred_at": "timestamptz",
    "correlation_id": "uuid",
    "causation_id": "uuid",
    "schema_version": "integer",
    "payload": "jsonb",
}

assert set(STATE_FIELDS) <= set(ORDER_COLUMN_TYPES), "every state field needs a column"

# Event type → the status name it moves an order to (enum member lookups are slow in bulk).
_STATUS_AFTER = {event_type: status.value for event_type, status in STATUS_AFTER_EVENT.items()}


@dataclass(frozen=True, slots=True)
class ProjectedOrder:
    """An order as the projection holds it: the folded state and where in the log it stands."""

    state: OrderState
    last_event_type: str
    last_position: str


def _json_fragment(model: BaseModel) -> orjson.Fragment:
    """A model's JSON, made once by pydantic and embedded as is by orjson."""
    return orjson.Fragment(model.__pydantic_serializer__.to_json(model))


def order_row(order: ProjectedOrder) -> dict[str, Any]:
    """The `orders` row of an order, ready for orjson (decimals stay Decimal: see json_default)."""
    state = order.state
    row: dict[str, Any] = {name: getattr(state, name) for name in STATE_FIELDS}
    row["status"] = state.status.value
    row["quotes"] = [_json_fragment(q) for q in state.quotes]
    row["route"] = _json_fragment(state.route) if state.route is not None else None
    row["last_event_type"] = order.last_event_type
    row["last_position"] = order.last_position
    return row


def projected_order(row: Mapping[str, Any]) -> ProjectedOrder:
    """Load an `orders` row back into the state the fold goes on from."""
    values: dict[str, Any] = {name: row[name] for name in STATE_FIELDS}
    values["status"] = OrderStatus(row["status"])
    values["quotes"] = tuple(Quote.model_validate(q) for q in row["quotes"] or ())
    values["route"] = Quote.model_validate(row["route"]) if row["route"] is not None else None
    return ProjectedOrder(OrderState(**values), row["last_event_type"], row["last_position"])


def event_row(recorded: Recorded) -> dict[str, Any]:
    """The `order_events` row of one event; its status is the one the event moves the order to."""
    event = recorded.event
    return {
        "order_id": event.order_id,
        "sequence": event.sequence,
        "position": recorded.position,
        "event_id": event.event_id,
        "type": event.type,
        "status": _STATUS_AFTER[event.type],
        "occurred_at": event.occurred_at,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "schema_version": event.schema_version,
        "payload": _json_fragment(event.payload),
    }


def recorded_from_event_row(row: Mapping[str, Any]) -> Recorded:
    """An event back from its history row (used to fold events that arrived ahead of a gap)."""
    event: Event[Payload] = event_from_dict(
        {
            "event_id": row["event_id"],
            "type": row["type"],
            "order_id": row["order_id"],
            "sequence": row["sequence"],
            "occurred_at": row["occurred_at"],
            "correlation_id": row["correlation_id"],
            "causation_id": row["causation_id"],
            "schema_version": row["schema_version"],
            "payload": row["payload"],
        }
    )
    return Recorded(row["position"], event)


def json_default(value: Any) -> Any:
    """orjson's fallback: decimals as exact strings (numeric accepts them as they are)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID | datetime):  # orjson handles these natively; kept for safety
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
