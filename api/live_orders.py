"""The point-read model of `GET /api/orders/{id}`: the state of every order this API process has
followed from its placement, folded in memory from the events its log relay reads anyway, so a
read of an order in flight needs neither PostgreSQL nor Redis. The answer is rendered on the first
read after a change and kept encoded until the next event.

The relay follows the log itself, so these states are usually ahead of the projected tables.
Reads stay monotonic within the process: once an answer came from elsewhere (the table, or the
log for an order the relay has not reached yet), a state behind it is not served; and once an
order is no longer answered from here (dropped, or the relay stalled), a projected row behind
what was followed is not served either (`floor`: the log answers). Ended orders move to the
finished views (`api.finished_views`), the rest are bounded: the least recently changed go
first. While the relay is not reading the log, nothing is answered from here.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from api.finished_views import FinishedViews
from eventlog.codec import Recorded
from schema.events import OrderPlaced
from schema.order_state import OrderState, OutOfOrderEventError, apply
from schema.statuses import TERMINAL_STATUSES

logger = logging.getLogger(__name__)

ORDERS_FOLLOWED = 5_000  # orders in flight kept; about 5 KB each as a state
FLOORS_KEPT = 10_000
_TERMINAL = frozenset(TERMINAL_STATUSES)

Render = Callable[[OrderState, str], bytes]


@dataclass(slots=True)
class _Followed:
    state: OrderState
    position: str  # of the order's last event: the answer's `position`
    body: bytes | None = None  # the answer, once rendered for this state


class LiveOrders:
    def __init__(
        self,
        finished: FinishedViews,
        render: Render,
        is_reading: Callable[[], bool],
        limit: int = ORDERS_FOLLOWED,
    ) -> None:
        self._finished = finished
        self._render = render
        self._is_reading = is_reading
        self._limit = limit
        self._orders: OrderedDict[uuid.UUID, _Followed] = OrderedDict()
        # The sequence of the newest answer given from elsewhere, for orders followed behind it.
        self._floors: OrderedDict[uuid.UUID, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._orders)

    def learn(self, recorded: Recorded) -> None:
        """Fold one event the relay read, in log order. Only an `OrderPlaced` starts following
        an order: its other events are dropped unless the whole history was seen. An event the
        fold refuses drops the order (it is read from the table or the log again); it never
        stops the relay."""
        event = recorded.event
        followed = self._orders.get(event.order_id)
        if followed is None and not isinstance(event.payload, OrderPlaced):
            return
        try:
            state = apply(followed.state if followed is not None else None, event)
        except Exception as exc:  # a gap in what the relay read, or an event the fold refuses
            if not isinstance(exc, OutOfOrderEventError):
                logger.warning("live orders stop following order %s: %s", event.order_id, exc)
            self._drop(event.order_id)
            return
        position = recorded.position
        if state.status in _TERMINAL:
            self._orders.pop(event.order_id, None)
            self._floors.pop(event.order_id, None)
            self._finished.keep_later(
                event.order_id, state.client_id, lambda: self._render(state, position)
            )
            return
        self._orders[event.order_id] = _Followed(state, position)
        self._orders.move_to_end(event.order_id)
        if len(self._orders) > self._limit:
            self._drop(next(iter(self._orders)))

    def answer(self, order_id: uuid.UUID) -> tuple[str | None, bytes] | None:
        """The order's owner and encoded answer, or None when this process does not follow it
        (or follows it behind an answer it gave from elsewhere)."""
        followed = self._orders.get(order_id)
        if followed is None or not self._is_reading():
            return None
        floor = self._floors.get(order_id)
        if floor is not None:
            if followed.state.sequence < floor:
                return None
            del self._floors[order_id]
        if followed.body is None:
            followed.body = self._render(followed.state, followed.position)
        return followed.state.client_id, followed.body

    def floor(self, order_id: uuid.UUID) -> int:
        """The lowest sequence an answer for the order may have in this process: what it has
        answered (or followed) so far. A projected row below it is stale: the log answers."""
        followed = self._orders.get(order_id)
        held = followed.state.sequence if followed is not None else 0
        return max(held, self._floors.get(order_id, 0))

    def answered_elsewhere(self, order_id: uuid.UUID, sequence: int) -> None:
        """An answer at `sequence` came from the table or the log: never serve an older one."""
        followed = self._orders.get(order_id)
        if followed is not None and followed.state.sequence >= sequence:
            return
        self._raise_floor(order_id, sequence)

    def _drop(self, order_id: uuid.UUID) -> None:
        """Stop following an order; what it showed stays its floor."""
        followed = self._orders.pop(order_id, None)
        if followed is not None:
            self._raise_floor(order_id, followed.state.sequence)

    def _raise_floor(self, order_id: uuid.UUID, sequence: int) -> None:
        self._floors[order_id] = max(sequence, self._floors.get(order_id, 0))
        self._floors.move_to_end(order_id)
        if len(self._floors) > FLOORS_KEPT:
            self._floors.popitem(last=False)
