"""The answers of `GET /api/orders/{id}` for orders that have ended, kept encoded in the API
process: nothing follows a terminal event, so such an answer never goes stale and needs no
invalidation. A point read of an ended order (a client checking its result, a dashboard
refreshing) is then served without a PostgreSQL round trip and without rendering; orders still
in flight are read fresh every time. Bounded: the least recently read go first."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

from schema.statuses import TERMINAL_STATUSES

VIEWS_KEPT = 10_000  # about 1.5 KB each
_TERMINAL = frozenset(status.value for status in TERMINAL_STATUSES)


@dataclass(frozen=True, slots=True)
class FinishedView:
    client_id: str | None  # whose order it is (who may read it)
    body: bytes  # the whole answer, encoded


class FinishedViews:
    def __init__(self, limit: int = VIEWS_KEPT) -> None:
        self._views: OrderedDict[uuid.UUID, FinishedView] = OrderedDict()
        self._limit = limit

    def get(self, order_id: uuid.UUID) -> FinishedView | None:
        view = self._views.get(order_id)
        if view is not None:
            self._views.move_to_end(order_id)
        return view

    def keep(self, order_id: uuid.UUID, status: str, client_id: str | None, body: bytes) -> None:
        """Keep the answer if the order has ended; an order in flight is not kept."""
        if status not in _TERMINAL:
            return
        self._views[order_id] = FinishedView(client_id, body)
        self._views.move_to_end(order_id)
        if len(self._views) > self._limit:
            self._views.popitem(last=False)
