"""Replay's bulk load of the `orders` projection: one partition of the log into tables that hold
none of its orders yet, folded in memory and written with binary COPY.

It folds with the live projection's `OrderFold` and builds the same rows; only the writing
differs. An order's row is written once, when the order is final or at the end, and every
history row once, so nothing needs an upsert; memory holds one state per open order. Events of
an order this load did not see start (possible only if the log lost its first events) go
through the live projection's `apply`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from psycopg import AsyncConnection

from eventlog.codec import Recorded
from projections.order_counters import CounterDeltas
from projections.order_fold import OrderFold
from projections.order_rows import ProjectedOrder
from projections.order_tables import add_counters, copy_events, copy_orders
from projections.projection import Projection
from schema.statuses import is_terminal


class OrdersBulkLoad:
    """Feed it a partition's events in log order (`add`), then `finish`; no one else may write
    these orders meanwhile (replay's shadow tables, one partition per loader)."""

    def __init__(self, projection: Projection) -> None:
        self._projection = projection
        self._open: dict[uuid.UUID, OrderFold] = {}  # orders that may still get events
        self._deltas = CounterDeltas()

    async def add(self, conn: AsyncConnection, batch: Sequence[Recorded]) -> int:
        """Load a batch in one transaction; returns how many of its events were new."""
        by_order: dict[uuid.UUID, list[Recorded]] = {}
        for recorded in batch:
            by_order.setdefault(recorded.event.order_id, []).append(recorded)
        new: list[Recorded] = []
        unseen: list[Recorded] = []  # events of orders whose start this load never saw
        final: list[ProjectedOrder] = []
        for order_id, events in by_order.items():
            fold = self._open.get(order_id)
            if fold is None:
                if events[0].event.sequence != 1:
                    unseen += events
                    continue
                fold = self._open[order_id] = OrderFold(None)
            new += fold.take(events)
            fold.advance()
            if fold.state is not None and is_terminal(fold.state.status):
                # A final order gets no more events: write it now, keep memory to open orders.
                del self._open[order_id]
                if (after := fold.count(self._deltas)) is not None:
                    final.append(after)
            else:
                fold.settle(self._deltas)  # an open order keeps its state, not its events
        async with conn.transaction():
            await copy_events(conn, new)
            await copy_orders(conn, final)
            applied = await self._projection.apply(conn, unseen) if unseen else 0
        return len(new) + applied

    async def finish(self, conn: AsyncConnection) -> None:
        """Write the orders still open and the counters of everything loaded."""
        orders = [after for fold in self._open.values() if (after := fold.count(self._deltas))]
        async with conn.transaction():
            await copy_orders(conn, orders)
            await add_counters(conn, self._deltas)
        self._open.clear()
        self._deltas = CounterDeltas()
