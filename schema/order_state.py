"""An order's current state, folded from its events: one pure function shared by the projection,
the read-your-writes fallback of the API and the execution processor's resume.

Applying an event whose sequence is not the next one is refused, so the fold never moves backwards.
"""

from __future__ import annotations

import dataclasses
import operator
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from schema.events import (
    AttemptFailed,
    Event,
    OrderCancelled,
    OrderConfirmed,
    OrderExpired,
    OrderFailed,
    OrderOpened,
    OrderPlaced,
    OrderTriggered,
    Payload,
    Quote,
    RouteSelected,
    RoutingStarted,
    TransactionSubmitted,
)
from schema.statuses import OrderStatus, status_after


class OutOfOrderEventError(ValueError):
    def __init__(self, order_id: uuid.UUID, expected: int, got: int) -> None:
        self.order_id = order_id
        self.expected = expected
        self.got = got
        super().__init__(f"order {order_id}: expected event sequence {expected}, got {got}")


@dataclasses.dataclass(frozen=True, slots=True)
class OrderState:
    id: uuid.UUID
    sequence: int
    status: OrderStatus
    order_type: str
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage: Decimal
    created_at: datetime
    updated_at: datetime
    limit_price: Decimal | None = None
    expires_at: datetime | None = None
    min_liquidity: Decimal | None = None
    client_id: str | None = None
    correlation_id: uuid.UUID | None = None
    quotes: tuple[Quote, ...] = ()
    route: Quote | None = None
    selected_dex: str | None = None
    expected_out: Decimal | None = None
    min_amount_out: Decimal | None = None
    amount_out: Decimal | None = None
    executed_price: Decimal | None = None
    price_impact: Decimal | None = None
    fee: Decimal | None = None
    tx_hash: str | None = None
    attempts: int = 0
    # The attempts made before the latest trigger of a limit order: each trigger has the whole
    # MAX_RETRY_ATTEMPTS budget.
    attempt_base: int = 0
    error_code: str | None = None
    error_message: str | None = None
    confirmed_at: datetime | None = None


def start(event: Event[OrderPlaced]) -> OrderState:
    p = event.payload
    return OrderState(
        id=event.order_id,
        sequence=event.sequence,
        status=status_after(None, event.type),
        order_type=p.order_type,
        token_in=p.token_in,
        token_out=p.token_out,
        amount_in=p.amount_in,
        slippage=p.slippage,
        limit_price=p.limit_price,
        expires_at=p.expires_at,
        min_liquidity=p.min_liquidity,
        client_id=p.client_id,
        correlation_id=event.correlation_id,
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
    )


def apply(state: OrderState | None, event: Event[Payload]) -> OrderState:
    """The state after `event`; `state` is None for an order's first event."""
    if state is None:
        if event.sequence != 1 or not isinstance(event.payload, OrderPlaced):
            raise OutOfOrderEventError(event.order_id, 1, event.sequence)
        return start(event)  # type: ignore[arg-type]
    if event.sequence != state.sequence + 1:
        raise OutOfOrderEventError(state.id, state.sequence + 1, event.sequence)
    changes: dict[str, object] = {
        "sequence": event.sequence,
        "status": status_after(state.status, event.type),
        "updated_at": event.occurred_at,
    }
    p = event.payload
    if isinstance(p, RoutingStarted):
        changes["attempts"] = max(state.attempts, p.attempt)
    elif isinstance(p, RouteSelected):
        changes.update(
            quotes=p.quotes,
            route=p.chosen,
            selected_dex=p.chosen.venue,
            expected_out=p.expected_out,
            min_amount_out=p.min_amount_out,
            price_impact=p.chosen.price_impact,
            fee=p.chosen.fee,
        )
    elif isinstance(p, TransactionSubmitted):
        changes["tx_hash"] = p.tx_hash
    elif isinstance(p, OrderConfirmed):
        changes.update(
            tx_hash=p.tx_hash,
            selected_dex=p.venue,
            amount_out=p.amount_out,
            executed_price=p.executed_price,
            fee=p.fee,
            price_impact=p.price_impact,
            confirmed_at=event.occurred_at,
            error_code=None,
            error_message=None,
        )
    elif isinstance(p, AttemptFailed):
        changes.update(error_code=p.error_code, error_message=p.error_message, tx_hash=None)
    elif isinstance(p, OrderFailed):
        changes.update(
            attempts=max(state.attempts, p.attempts),
            error_code=p.error_code,
            error_message=p.error_message,
        )
    elif isinstance(p, OrderTriggered):
        changes["attempt_base"] = state.attempts
    elif isinstance(p, OrderOpened) and p.reopened_after is not None:
        changes.update(
            error_code=p.reopened_after,
            error_message="the market moved back below the limit price; resting again",
            tx_hash=None,
        )
    elif isinstance(p, OrderCancelled | OrderExpired):
        changes.update(error_message=p.reason)
    return _replace(state, changes)


_FIELDS = tuple(f.name for f in dataclasses.fields(OrderState))
_FIELD_INDEX = {name: i for i, name in enumerate(_FIELDS)}
_FIELD_VALUES = operator.attrgetter(*_FIELDS)


def _replace(state: OrderState, changes: dict[str, object]) -> OrderState:
    """`dataclasses.replace` for the fold's hot path, in half its time: every event of every
    order is folded in the API (live orders), the processor and the projector."""
    values = list(_FIELD_VALUES(state))
    for name, value in changes.items():
        values[_FIELD_INDEX[name]] = value
    return OrderState(*values)


def fold(events: Iterable[Event[Payload]]) -> OrderState | None:
    state: OrderState | None = None
    for event in events:
        state = apply(state, event)
    return state
