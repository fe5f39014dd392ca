"""The `orders` projection: current order state, per-order event history and metrics counters.

Exactly once: a batch writes its history rows (this projection's tracking rows, keyed by order and
sequence), order rows and counter deltas in one transaction; an order's row only moves forward.
Per-order locks (taken in a fixed order) serialise projectors that hold events of the same order;
an event that arrives ahead of a gap waits in the history and is folded in when the gap is filled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from eventlog.codec import Recorded
from projections.order_cache import OrderCache
from projections.order_counters import CounterDeltas
from projections.order_fold import OrderFold
from projections.order_rows import ProjectedOrder, projected_order, recorded_from_event_row
from projections.order_tables import add_counters, insert_events, upsert_orders
from projections.orders_bulk_load import OrdersBulkLoad
from schema.read_model_columns import EVENT_COLUMNS, ORDER_COLUMNS

logger = logging.getLogger(__name__)


# Orders are locked through LOCK_STRIPES stripes (an order's stripe is a hash of its id): a batch of
# thousands of orders takes at most that many locks, well inside PostgreSQL's shared lock table
# (max_locks_per_transaction times connections); a lock per order exhausted it. Two batches whose
# orders share a stripe simply run one after the other.
LOCK_STRIPES = 128

_LOCK_ORDERS = f"""
SELECT pg_advisory_xact_lock(k) FROM (
    SELECT DISTINCT hashtextextended(
        current_schema() || ':order-stripe:'
        || (abs(hashtextextended(o::text, 0)) %% {LOCK_STRIPES})::text, 0) AS k
    FROM unnest(%s::uuid[]) AS o ORDER BY 1
) AS sorted_keys
"""

# The reads by id are sent unprepared, so PostgreSQL plans each with its values. Prepared, their
# generic plan is made at the sixth execution, when a new deployment's tables are near empty: a
# sequential scan, kept until the table is next analysed. On a fresh schema that took 1.7 ms a
# batch after 10,000 orders, and most of PostgreSQL's CPU at 1,000 orders/s; planned each time,
# the lookup is an index scan (3.6 ms vs 0.07 ms for 17 ids among 20,000 orders).
_CUSTOM_PLAN = False
# Where each order's row stands (a cached fold is used when it stands at the same place).
_HEADS = "SELECT id, sequence, last_position FROM orders WHERE id = ANY(%s::uuid[])"

_SELECT_ORDERS = f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE id = ANY(%s::uuid[])"

# Events already in the history beyond where an order's row stands: they arrived (in another
# batch) ahead of a gap that this batch may fill. One index range scan per order.
_EVENTS_BEYOND = f"""
SELECT h.* FROM unnest(%s::uuid[]) AS u(id)
CROSS JOIN LATERAL (
    SELECT {", ".join(EVENT_COLUMNS)} FROM order_events AS e
    WHERE e.order_id = u.id
      AND e.sequence > coalesce((SELECT o.sequence FROM orders AS o WHERE o.id = u.id), 0)
    OFFSET 0  -- keeps the planner from turning this into a scan of the whole history
) AS h
"""


def _uuid_array(ids: list[uuid.UUID]) -> str:
    """A uuid[] literal: much cheaper to build than letting the driver adapt a list."""
    return "{" + ",".join(map(str, ids)) + "}"


class OrdersProjection:
    name = "orders"
    tables = ("orders", "order_events", "metric_counters")

    def __init__(self) -> None:
        self.cache = OrderCache()

    def bulk_load(self) -> OrdersBulkLoad:
        """A loader of one partition of the log into this projection's empty tables (replay)."""
        return OrdersBulkLoad(self)

    async def apply(self, conn: AsyncConnection, batch: Sequence[Recorded]) -> int:
        by_order: dict[uuid.UUID, list[Recorded]] = {}
        for recorded in batch:
            by_order.setdefault(recorded.event.order_id, []).append(recorded)
        if not by_order:
            return 0
        ids = _uuid_array(list(by_order))  # the lock query sorts them
        async with conn.pipeline():
            await conn.execute(_LOCK_ORDERS, (ids,))
            # Never prepared: see _CUSTOM_PLAN.
            heads = await conn.execute(_HEADS, (ids,), prepare=_CUSTOM_PLAN)
            beyond = conn.cursor(row_factory=dict_row)
            await beyond.execute(_EVENTS_BEYOND, (ids,), prepare=_CUSTOM_PLAN)
            head_rows = await heads.fetchall()
            beyond_rows = await beyond.fetchall()
        folds = await self._folds(conn, by_order, head_rows)
        for row in beyond_rows:  # events that came earlier, ahead of a gap
            folds[row["order_id"]].waiting[row["sequence"]] = recorded_from_event_row(row)
        new: list[Recorded] = []
        for order_id, events in by_order.items():
            new += folds[order_id].take(events)
        if not new:
            return 0
        async with conn.pipeline():
            # Sent now; PostgreSQL inserts the history while this process folds.
            await insert_events(conn, new)
            for order_id, fold in folds.items():
                fold.advance()
                if fold.waiting:
                    self._log_gap(order_id, fold)
            await self._write(conn, folds)
        return len(new)

    async def _folds(
        self,
        conn: AsyncConnection,
        by_order: dict[uuid.UUID, list[Recorded]],
        heads: list[tuple[Any, ...]],
    ) -> dict[uuid.UUID, OrderFold]:
        """Each order's fold, starting from its row: from the cache when it is current."""
        found: dict[uuid.UUID, ProjectedOrder | None] = dict.fromkeys(by_order)
        missing: list[uuid.UUID] = []
        for order_id, sequence, position in heads:
            cached = self.cache.get(order_id, sequence, position)
            if cached is None:
                missing.append(order_id)
            found[order_id] = cached
        if missing:
            async with conn.cursor(row_factory=dict_row) as cursor:
                await cursor.execute(_SELECT_ORDERS, (_uuid_array(missing),), prepare=_CUSTOM_PLAN)
                for row in await cursor.fetchall():
                    found[row["id"]] = projected_order(row)
        return {order_id: OrderFold(order) for order_id, order in found.items()}

    def _log_gap(self, order_id: uuid.UUID, fold: OrderFold) -> None:
        first = min(fold.waiting)
        recorded = fold.waiting[first]
        logger.info(
            "orders: order_id=%s stands at sequence %d; event_id=%s position=%s (sequence %d) "
            "waits in the history until the gap is filled",
            order_id,
            fold.sequence,
            recorded.event.event_id,
            recorded.position,
            first,
            extra={
                "order_id": str(order_id),
                "event_id": str(recorded.event.event_id),
                "position": recorded.position,
            },
        )

    async def _write(self, conn: AsyncConnection, folds: dict[uuid.UUID, OrderFold]) -> None:
        deltas = CounterDeltas()
        orders: list[ProjectedOrder] = []
        for fold in folds.values():
            after = fold.count(deltas)
            if after is not None:
                orders.append(after)
                self.cache.put(after)
        await upsert_orders(conn, orders)
        await add_counters(conn, deltas)
