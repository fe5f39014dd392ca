"""How orders and their events look in API answers: camelCase keys, amounts as exact decimal
strings, times in UTC. One view serves a projected row and a state folded from the log, so an
order reads the same whichever of the two answered.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel

from eventlog.codec import Recorded
from schema.events import public_fields
from schema.order_state import OrderState
from schema.read_model_columns import JSON_COLUMNS, ORDER_VIEW_FIELDS
from schema.statuses import STATUS_AFTER_EVENT


@functools.cache
def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_json(value: Any) -> Any:
    """An API value: decimals as plain strings (never exponents), camelCase keys, UTC times."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is dict:
        return {camel(k): to_json(v) for k, v in value.items()}
    if kind is list:
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return to_json(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {camel(str(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return str(value)


_VIEW_KEYS = tuple((name, camel(name)) for name in ORDER_VIEW_FIELDS)
_JSON_FIELDS = tuple(name for name in ORDER_VIEW_FIELDS if name in JSON_COLUMNS)


def _scalar(value: Any) -> Any:
    """`to_json` for the fields of an order, with the common cases first (hot path)."""
    if value is None or type(value) is str or type(value) is int:
        return value
    if type(value) is Decimal:
        return format(value, "f")
    if type(value) is datetime:
        return format_time(value)
    return to_json(value)


def render_order(fields: Mapping[str, Any], position: str | None) -> dict[str, Any]:
    """The order view from its fields: an `orders` row or the fields of an `OrderState`."""
    view = {key: _scalar(fields.get(name)) for name, key in _VIEW_KEYS}
    for name in _JSON_FIELDS:
        value = fields.get(name)
        if isinstance(value, str | bytes):  # a jsonb column read as text: orjson parses fastest
            value = orjson.loads(value)
        # jsonb keeps an object's keys in an order of its own (shortest first), a model in
        # its fields' order: sorted, the answer is the same bytes whichever of them it came from.
        view[camel(name)] = _keys_sorted(to_json(value))
    view["position"] = position
    return view


def _keys_sorted(value: Any) -> Any:
    if type(value) is dict:
        return {key: _keys_sorted(value[key]) for key in sorted(value)}
    if type(value) is list:
        return [_keys_sorted(item) for item in value]
    return value


def render_order_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return render_order(row, row.get("last_position"))


def render_state(state: OrderState, position: str | None = None) -> dict[str, Any]:
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    return render_order(fields, position)


def order_answer(state: OrderState, position: str | None) -> bytes:
    """The whole answer of `GET /api/orders/{id}` for an order's folded state, encoded."""
    return orjson.dumps({"success": True, "order": render_state(state, position)}, default=str)


def render_event(
    *,
    position: str,
    sequence: int,
    event_type: str,
    status: str,
    occurred_at: datetime,
    data: Mapping[str, Any],
    event_id: uuid.UUID,
) -> dict[str, Any]:
    return {
        "position": position,
        "sequence": sequence,
        "type": event_type,
        "status": status,
        "occurredAt": format_time(occurred_at),
        "eventId": str(event_id),
        "data": to_json(public_fields(data)),
    }


def render_event_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """An event from the `order_events` table."""
    return render_event(
        position=row["position"],
        sequence=row["sequence"],
        event_type=row["type"],
        status=row["status"],
        occurred_at=row["occurred_at"],
        data=row["payload"],
        event_id=row["event_id"],
    )


def render_recorded(recorded: Recorded) -> dict[str, Any]:
    """An event read from the log: the same view as its history row."""
    event = recorded.event
    return render_event(
        position=recorded.position,
        sequence=event.sequence,
        event_type=event.type,
        status=STATUS_AFTER_EVENT[event.type].value,
        occurred_at=event.occurred_at,
        data=event.payload.model_dump(mode="json"),
        event_id=event.event_id,
    )
