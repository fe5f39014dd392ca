"""Order statuses and the transitions allowed between them: pure functions, no I/O.

`status_after` is the single source of truth for what an event does to an order's status.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


TERMINAL_STATUSES = frozenset(
    {OrderStatus.CONFIRMED, OrderStatus.FAILED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
)

# Statuses from which a client may still cancel: nothing has been sent to a venue yet.
CANCELLABLE_STATUSES = frozenset(
    {OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.ROUTING, OrderStatus.BUILDING}
)

# The status each event type moves an order to.
STATUS_AFTER_EVENT: dict[str, OrderStatus] = {
    "OrderPlaced": OrderStatus.PENDING,
    "OrderOpened": OrderStatus.OPEN,
    "OrderTriggered": OrderStatus.ROUTING,
    "RoutingStarted": OrderStatus.ROUTING,
    "RouteSelected": OrderStatus.BUILDING,
    "TransactionBuilt": OrderStatus.BUILDING,
    "TransactionSubmitted": OrderStatus.SUBMITTED,
    "OrderConfirmed": OrderStatus.CONFIRMED,
    "AttemptFailed": OrderStatus.ROUTING,
    "OrderFailed": OrderStatus.FAILED,
    "OrderCancelled": OrderStatus.CANCELLED,
    "OrderExpired": OrderStatus.EXPIRED,
}

# Which statuses each status may move to.
ALLOWED_TRANSITIONS: dict[OrderStatus | None, frozenset[OrderStatus]] = {
    None: frozenset({OrderStatus.PENDING}),
    OrderStatus.PENDING: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.ROUTING,
            OrderStatus.FAILED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.OPEN: frozenset(
        {OrderStatus.ROUTING, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.FAILED}
    ),
    OrderStatus.ROUTING: frozenset(
        {
            OrderStatus.OPEN,  # a limit order the market left behind before it was routed
            OrderStatus.ROUTING,
            OrderStatus.BUILDING,
            OrderStatus.FAILED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.BUILDING: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.BUILDING,
            OrderStatus.SUBMITTED,
            OrderStatus.ROUTING,
            OrderStatus.FAILED,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.SUBMITTED: frozenset(
        # open: a limit order's swap found the market below its limit, and filled nothing
        {OrderStatus.CONFIRMED, OrderStatus.ROUTING, OrderStatus.FAILED, OrderStatus.OPEN}
    ),
    OrderStatus.CONFIRMED: frozenset(),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class InvalidTransitionError(ValueError):
    def __init__(self, current: OrderStatus | None, event_type: str) -> None:
        self.current = current
        self.event_type = event_type
        super().__init__(f"event {event_type} is not allowed when the order is {current or 'new'}")


def can_transition(current: OrderStatus | None, target: OrderStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def status_after(current: OrderStatus | None, event_type: str) -> OrderStatus:
    """The status an order has after `event_type` happens to it in status `current`."""
    target = STATUS_AFTER_EVENT.get(event_type)
    if target is None or not can_transition(current, target):
        raise InvalidTransitionError(current, event_type)
    return target


def is_terminal(status: OrderStatus) -> bool:
    return status in TERMINAL_STATUSES
