"""The JSON Schemas of the API's bodies, for `GET /openapi.json`: built from the definitions the
views render from (read-model columns, the order state, statuses, the token registry), so the
document changes when they do."""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

from api.order_views import camel
from api.orders_queries import MAX_PAGE
from commands.order_values import UNSIGNED_DECIMAL
from schema.events import OrderType, Quote
from schema.order_state import OrderState
from schema.read_model_columns import ORDER_COLUMN_TYPES, ORDER_VIEW_FIELDS
from schema.statuses import STATUS_AFTER_EVENT, OrderStatus
from schema.tokens import SYMBOL_PATTERN, TOKENS

Schema = dict[str, Any]

UUID: Schema = {"type": "string", "format": "uuid"}
TIME: Schema = {"type": "string", "format": "date-time", "pattern": "Z$"}
# A decimal as the views write it: `format(value, "f")`, never an exponent.
DECIMAL: Schema = {"type": "string", "pattern": f"^-?{UNSIGNED_DECIMAL}$"}
POSITION: Schema = {"type": "string", "pattern": "^[0-9]+-[0-9]+$", "description": "log position"}
COUNT: Schema = {"type": "integer", "minimum": 0}
STATUS: Schema = {"type": "string", "enum": list(OrderStatus)}
TOKEN: Schema = {
    "type": "string",
    "pattern": SYMBOL_PATTERN,
    "examples": list(TOKENS),
    "description": "a token's symbol (pool launches list new ones)",
}
ORDER_ID: Schema = {**UUID, "description": "an order's id, as POST /api/orders/execute gave it"}
PAGE_SIZE: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}


def closed(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these properties, all required but `optional`."""
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
        "additionalProperties": False,
    }


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def success(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """A successful answer: `success: true` beside the properties."""
    return closed({"success": {"const": True}, **properties}, optional=optional)


ERROR = closed(
    {
        "success": {"const": False},
        "error": {"type": "string", "description": "what went wrong, for people"},
        "code": {"type": "string", "description": "stable, for programs"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "orderId": UUID,
                    "message": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
    }
)

# A quote as the views write it: its model's fields in camelCase, values as the model dumps them.
QUOTE = closed(
    {
        "venue": {"type": "string"},
        "route": {"enum": list(get_args(Quote.model_fields["route"].annotation))},
        "amountOut": {"type": "string"},
        "fee": {"type": "string"},
        "priceImpact": {"type": "string"},
        "legs": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    optional=("route", "legs"),
)

_COLUMN_SCHEMAS: dict[str, Schema] = {
    "uuid": UUID,
    "text": {"type": "string"},
    "numeric": DECIMAL,
    "timestamptz": TIME,
    "integer": COUNT,
}
_FIELD_SCHEMAS: dict[str, Schema] = {
    "status": STATUS,
    "order_type": {"enum": list(get_args(OrderType))},
    "token_in": TOKEN,
    "token_out": TOKEN,
    "quotes": {"type": "array", "items": QUOTE},
    "route": QUOTE,
}
_NULLABLE_FIELDS = frozenset(f.name for f in dataclasses.fields(OrderState) if f.default is None)


def _order() -> Schema:
    properties: dict[str, Schema] = {}
    for name in ORDER_VIEW_FIELDS:
        schema = _FIELD_SCHEMAS.get(name) or _COLUMN_SCHEMAS[ORDER_COLUMN_TYPES[name]]
        properties[camel(name)] = nullable(schema) if name in _NULLABLE_FIELDS else schema
    properties["position"] = nullable(POSITION)
    return closed(properties)


ORDER = _order()

_EVENT_FIELDS: dict[str, Schema] = {
    "position": POSITION,
    "sequence": {"type": "integer", "minimum": 1},
    "type": {"enum": list(STATUS_AFTER_EVENT)},
    "status": STATUS,
    "occurredAt": TIME,
    "eventId": UUID,
    "data": {
        "type": "object",
        "description": "the event's payload, camelCase; its fields depend on the type",
    },
}
EVENT = closed(_EVENT_FIELDS)

PLACED = success(
    {
        "orderId": ORDER_ID,
        "status": {"const": OrderStatus.PENDING.value},
        "message": {"type": "string"},
        "websocketUrl": {"type": "string", "pattern": "^/api/orders/[^/]+/stream$"},
        "position": {**nullable(POSITION), "description": "null when replayed"},
        "replayed": {"type": "boolean", "description": "true: an earlier placement's answer"},
    }
)
POOL_LAUNCHED = success(
    {
        "poolId": UUID,
        "venue": {"type": "string"},
        "pair": {"type": "string", "description": "tokenA/tokenB"},
        "listed": {"type": "boolean", "description": "true: tokenB was new and is listed now"},
        "position": POSITION,
        "message": {"type": "string"},
    }
)
CANCELLED = success(
    {
        "orderId": ORDER_ID,
        "status": {"const": OrderStatus.CANCELLED.value},
        "position": POSITION,
        "replayed": {"type": "boolean", "description": "true: it was cancelled already"},
    }
)
ORDER_ANSWER = success({"order": ORDER})
ORDER_PAGE = success(
    {
        "orders": {"type": "array", "items": ORDER, "maxItems": MAX_PAGE},
        "nextCursor": nullable(
            {"type": "string", "description": "pass as `cursor` for the next page"}
        ),
    }
)
ORDER_EVENTS = success(
    {"orderId": ORDER_ID, "events": {"type": "array", "items": EVENT, "minItems": 1}}
)

_PRICE = closed(
    {
        "venue": {"type": "string"},
        "price": DECIMAL,
        "feeRate": DECIMAL,
        "kind": {"type": "string"},
    }
)
PRICE_BOARD = success(
    {
        "updatedAt": nullable(TIME),
        "ageSeconds": nullable({"type": "number", "minimum": 0}),
        "pairs": {
            "type": "array",
            "items": closed(
                {"pair": {"type": "string"}, "venues": {"type": "array", "items": _PRICE}}
            ),
        },
    }
)

STREAM_TICKET = success(
    {
        "ticket": {
            "type": "string",
            "description": "pass as ?ticket= when opening a WebSocket; opens one, once",
        },
        "expiresInSeconds": {"type": "integer", "minimum": 1},
    }
)


GROUP_FIGURES = {"pending": COUNT, "lag": nullable(COUNT)}


def _check(*statuses: str) -> Schema:
    return closed(
        {"status": {"enum": list(statuses)}, "error": {"type": "string"}}, optional=("error",)
    )


_GROUP_HEALTH = closed(
    {
        "status": {"enum": ["up", "down"], "description": "up: a live consumer"},
        "consumers": {"type": "array", "items": {"type": "string"}},
        **GROUP_FIGURES,
    }
)
HEALTH = closed(
    {
        "status": {"enum": ["healthy", "unhealthy"]},
        "timestamp": TIME,
        "checks": closed(
            {
                "redis": _check("up", "full", "down"),
                "postgres": _check("up", "down"),
                "consumers": {
                    "anyOf": [
                        closed({"error": {"type": "string"}}),
                        {"type": "object", "additionalProperties": _GROUP_HEALTH},
                    ],
                    "description": "by consumer group; absent while Redis is not up",
                },
            },
            optional=("consumers",),
        ),
    }
)
