"""The answers of `GET /api/orders/{id}` for orders that have ended, kept encoded in the API
process: nothing follows a terminal event, so such an answer never goes stale and needs no
invalidation. A point read of an ended order (a client checking its result, a dashboard
refreshing) is then served without a PostgreSQL round trip and without rendering. Orders in
flight are answered by the live orders (`api.live_orders`) or read fresh. Bounded: the least
recently read go first."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable

from schema.statuses import TERMINAL_STATUSES

VIEWS_KEPT = 2_000  # about 1.5 KB each rendered, 5-6 KB while kept as a state to render
_TERMINAL = frozenset(status.value for status in TERMINAL_STATUSES)


class FinishedView:
    """Whose order it is (who may read it), and the whole answer, encoded: given, or rendered
    on the first read (an order followed to its end by the log relay, perhaps never read)."""

    __slots__ = ("_body", "_render", "client_id")

    def __init__(
        self,
        client_id: str | None,
        body: bytes | None = None,
        render: Callable[[], bytes] | None = None,
    ) -> None:
        self.client_id = client_id
        self._body = body
        self._render = render

    @property
    def body(self) -> bytes:
        if self._body is None:
            assert self._render is not None
            self._body, self._render = self._render(), None
        return self._body


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
        self._put(order_id, FinishedView(client_id, body))

    def keep_later(
        self, order_id: uuid.UUID, client_id: str | None, render: Callable[[], bytes]
    ) -> None:
        """Keep the answer of an order known to have ended, rendered when first read."""
        self._put(order_id, FinishedView(client_id, render=render))

    def _put(self, order_id: uuid.UUID, view: FinishedView) -> None:
        self._views[order_id] = view
        self._views.move_to_end(order_id)
        if len(self._views) > self._limit:
            self._views.popitem(last=False)
