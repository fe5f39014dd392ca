"""Metrics counters as deltas of the state transitions the projection applies: pure, no I/O.

A delta is produced only when an event moves an order's row forward, and the row moves forward
exactly once per event, so a redelivered or re-folded event can never count twice.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Context, Decimal, Inexact

from projections.order_rows import ProjectedOrder
from schema.events import (
    AttemptFailed,
    Event,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    Payload,
    RoutingStarted,
)
from schema.order_state import OrderState
from schema.statuses import OrderStatus

# Counter and gauge names in `metric_counters`; the API reads the same names.
ORDERS_IN_STATUS = "orders_in_status"  # gauge, label: status
ORDERS_AWAITING_RETRY = "orders_awaiting_retry"  # gauge: routing again after an AttemptFailed
ORDERS_PLACED = "orders_placed"  # label: order type
ORDERS_CONFIRMED = "orders_confirmed"  # label: venue
VOLUME_IN = "volume_in"  # label: token sold, confirmed orders only
VOLUME_OUT = "volume_out"  # label: token bought, confirmed orders only
RETRIES = "retries"  # attempts after the first
ATTEMPTS_FAILED = "attempts_failed"  # label: error code
ORDERS_FAILED = "orders_failed"  # label: error code
LATENCY_BUCKET = "accept_to_confirmed_ms_bucket"  # label: upper bound (not cumulative)
LATENCY_SUM = "accept_to_confirmed_ms_sum"

LATENCY_BUCKETS_MS = (100, 250, 500, 1_000, 2_000, 3_000, 5_000, 10_000, 30_000, 60_000)

# Gauges are written in every batch, even unchanged, so their rows exist whatever the batching.
GAUGE_KEYS: tuple[tuple[str, str], ...] = (
    *((ORDERS_IN_STATUS, status.value) for status in OrderStatus),
    (ORDERS_AWAITING_RETRY, ""),
)

CounterKey = tuple[str, str]

# Sums stay exact: volumes of large orders in tokens with many decimals outgrow the default 28
# significant digits (1e12 SOL sold for BONK is already 24), and a rounded sum would drift from
# the orders' own amounts. Any inexact sum is an error rather than a silent rounding.
_EXACT = Context(prec=120, traps=[Inexact])


class CounterDeltas:
    """What one batch adds to each counter."""

    def __init__(self) -> None:
        self._values: defaultdict[CounterKey, Decimal] = defaultdict(Decimal)

    def add(self, name: str, label: str = "", amount: Decimal | int = 1) -> None:
        key = (name, label)
        self._values[key] = _EXACT.add(self._values[key], amount)

    def rows(self) -> list[tuple[str, str, Decimal]]:
        """Rows to upsert, sorted by key (a fixed lock order: no deadlock between projectors)."""
        values = dict(self._values)
        for key in GAUGE_KEYS:
            values.setdefault(key, Decimal(0))
        gauges = set(GAUGE_KEYS)
        return [
            (name, label, amount)
            for (name, label), amount in sorted(values.items())
            if amount != 0 or (name, label) in gauges
        ]


def latency_bucket(milliseconds: Decimal) -> str:
    for bound in LATENCY_BUCKETS_MS:
        if milliseconds <= bound:
            return str(bound)
    return "+Inf"


def count_event(deltas: CounterDeltas, after: OrderState, event: Event[Payload]) -> None:
    """The counters one applied event moves (status gauges are counted per order, below)."""
    p = event.payload
    if isinstance(p, OrderPlaced):
        deltas.add(ORDERS_PLACED, p.order_type)
    elif isinstance(p, RoutingStarted):
        if p.attempt > 1:
            deltas.add(RETRIES)
    elif isinstance(p, AttemptFailed):
        deltas.add(ATTEMPTS_FAILED, p.error_code)
    elif isinstance(p, OrderFailed):
        deltas.add(ORDERS_FAILED, p.error_code)
    elif isinstance(p, OrderConfirmed):
        deltas.add(ORDERS_CONFIRMED, p.venue)
        deltas.add(VOLUME_IN, after.token_in, after.amount_in)
        deltas.add(VOLUME_OUT, after.token_out, p.amount_out)
        elapsed = event.occurred_at - after.created_at
        milliseconds = Decimal(elapsed // _MICROSECOND) / 1000
        deltas.add(LATENCY_BUCKET, latency_bucket(milliseconds))
        deltas.add(LATENCY_SUM, "", milliseconds)


def count_transition(
    deltas: CounterDeltas, before: ProjectedOrder | None, after: ProjectedOrder
) -> None:
    """The gauges an order's move from `before` to `after` changes."""
    if before is not None:
        deltas.add(ORDERS_IN_STATUS, before.state.status.value, -1)
        if _awaiting_retry(before):
            deltas.add(ORDERS_AWAITING_RETRY, "", -1)
    deltas.add(ORDERS_IN_STATUS, after.state.status.value, 1)
    if _awaiting_retry(after):
        deltas.add(ORDERS_AWAITING_RETRY, "", 1)


def _awaiting_retry(order: ProjectedOrder) -> bool:
    return order.last_event_type == "AttemptFailed" and order.state.status is OrderStatus.ROUTING


_MICROSECOND = timedelta(microseconds=1)
