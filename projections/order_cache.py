"""An in-process cache of folded orders, so a batch need not reload and re-parse rows it wrote.

An entry is used only when the row in the database (read under the order's lock) still stands at
the same sequence and position: a state folded from the same events is the same state, so a cached
entry can never be stale, even after a rolled-back batch or a write by another projector.
"""

from __future__ import annotations

import uuid

from projections.order_rows import ProjectedOrder
from schema.statuses import is_terminal


class OrderCache:
    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._orders: dict[uuid.UUID, ProjectedOrder] = {}

    def get(self, order_id: uuid.UUID, sequence: int, position: str) -> ProjectedOrder | None:
        found = self._orders.get(order_id)
        if found is None or found.state.sequence != sequence or found.last_position != position:
            return None
        return found

    def put(self, order: ProjectedOrder) -> None:
        order_id = order.state.id
        self._orders.pop(order_id, None)
        if is_terminal(order.state.status):
            return  # a finished order gets no more events
        self._orders[order_id] = order
        if len(self._orders) > self._capacity:
            del self._orders[next(iter(self._orders))]  # the least recently written

    def __len__(self) -> int:
        return len(self._orders)
