"""The mapping between an order's folded state and its read-model rows, both ways.

Columns of `orders` are the fields of `schema.order_state.OrderState`, so a row loads back into the
very state it was written from (decimals and times exact) and the fold can go on from it.
"""

from __future__ import annotations

import dataclasses
import operator
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
from schema.read_model_columns import EVENT_COLUMNS, JSON_COLUMNS, ORDER_COLUMNS
from schema.statuses import STATUS_AFTER_EVENT, OrderStatus

STATE_FIELDS = tuple(f.name for f in dataclasses.fields(OrderState))

# Every column of `orders` but the last two is the state's field of the same name.
_STATE_COLUMNS = ORDER_COLUMNS[:-2]
assert ORDER_COLUMNS[-2:] == ("last_event_type", "last_position")
assert set(_STATE_COLUMNS) == set(STATE_FIELDS)
_read_state = operator.attrgetter(*_STATE_COLUMNS)
_STATUS, _QUOTES, _ROUTE = (_STATE_COLUMNS.index(c) for c in ("status", "quotes", "route"))

# Event type → the status name it moves an order to (enum member lookups are slow in bulk).
_STATUS_AFTER = {event_type: status.value for event_type, status in STATUS_AFTER_EVENT.items()}


@dataclass(frozen=True, slots=True)
class ProjectedOrder:
    """An order as the projection holds it: the folded state and where in the log it stands."""

    state: OrderState
    last_event_type: str
    last_position: str


def _json_bytes(model: BaseModel) -> bytes:
    """A model's JSON, made by pydantic (decimals as exact strings)."""
    return model.__pydantic_serializer__.to_json(model)


def order_values(order: ProjectedOrder) -> tuple[Any, ...]:
    """The `orders` row of an order, in `ORDER_COLUMNS` order; jsonb columns as JSON bytes."""
    state = order.state
    values = list(_read_state(state))
    values[_STATUS] = state.status.value
    values[_QUOTES] = b"[" + b",".join(_json_bytes(q) for q in state.quotes) + b"]"
    values[_ROUTE] = _json_bytes(state.route) if state.route is not None else None
    return (*values, order.last_event_type, order.last_position)


def event_values(recorded: Recorded) -> tuple[Any, ...]:
    """The `order_events` row of one event, in `EVENT_COLUMNS` order; its status is the one the
    event moves the order to, its payload JSON bytes."""
    event = recorded.event
    return (
        event.order_id,
        event.sequence,
        recorded.position,
        event.event_id,
        event.type,
        _STATUS_AFTER[event.type],
        event.occurred_at,
        event.correlation_id,
        event.causation_id,
        event.schema_version,
        _json_bytes(event.payload),
    )


def as_json_row(columns: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    """A row of values as a dict ready for orjson (jsonb columns embedded as they are)."""
    return {
        column: orjson.Fragment(value) if column in JSON_COLUMNS and value is not None else value
        for column, value in zip(columns, values, strict=True)
    }


def order_row(order: ProjectedOrder) -> dict[str, Any]:
    """The `orders` row of an order, ready for orjson (decimals stay Decimal: see json_default)."""
    return as_json_row(ORDER_COLUMNS, order_values(order))


def event_row(recorded: Recorded) -> dict[str, Any]:
    """The `order_events` row of one event, ready for orjson."""
    return as_json_row(EVENT_COLUMNS, event_values(recorded))


def projected_order(row: Mapping[str, Any]) -> ProjectedOrder:
    """Load an `orders` row back into the state the fold goes on from."""
    values: dict[str, Any] = {name: row[name] for name in STATE_FIELDS}
    values["status"] = OrderStatus(row["status"])
    values["quotes"] = tuple(Quote.model_validate(q) for q in row["quotes"] or ())
    values["route"] = Quote.model_validate(row["route"]) if row["route"] is not None else None
    return ProjectedOrder(OrderState(**values), row["last_event_type"], row["last_position"])


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
