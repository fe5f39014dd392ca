"""The columns of the read tables `orders` and `order_events`, with their PostgreSQL types: one
definition, read by the projector that writes the rows and by the API that serves them. The
migrations create exactly these columns (a test compares them with the migrated tables).
"""

from __future__ import annotations

# `orders`: the fields of `schema.order_state.OrderState`, then where the projection stands. The
# order view's fields come first, in the order an answer shows them.
ORDER_COLUMN_TYPES: dict[str, str] = {
    "id": "uuid",
    "order_type": "text",
    "status": "text",
    "token_in": "text",
    "token_out": "text",
    "amount_in": "numeric",
    "slippage": "numeric",
    "limit_price": "numeric",
    "expires_at": "timestamptz",
    "min_liquidity": "numeric",
    "quotes": "jsonb",
    "route": "jsonb",
    "selected_dex": "text",
    "expected_out": "numeric",
    "amount_out": "numeric",
    "min_amount_out": "numeric",
    "executed_price": "numeric",
    "price_impact": "numeric",
    "fee": "numeric",
    "tx_hash": "text",
    "attempts": "integer",
    "error_code": "text",
    "error_message": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "confirmed_at": "timestamptz",
    "sequence": "integer",
    "client_id": "text",
    "correlation_id": "uuid",
    "attempt_base": "integer",
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

ORDER_COLUMNS = tuple(ORDER_COLUMN_TYPES)
EVENT_COLUMNS = tuple(EVENT_COLUMN_TYPES)
JSON_COLUMNS = frozenset(
    column
    for column, kind in {**ORDER_COLUMN_TYPES, **EVENT_COLUMN_TYPES}.items()
    if kind == "jsonb"
)

# Columns kept for the projection and for isolation, never shown to a client.
PRIVATE_ORDER_COLUMNS = frozenset(
    {"client_id", "correlation_id", "attempt_base", "last_event_type", "last_position"}
)
# The fields of an order's view, in the order an answer shows them.
ORDER_VIEW_FIELDS = tuple(c for c in ORDER_COLUMNS if c not in PRIVATE_ORDER_COLUMNS)
