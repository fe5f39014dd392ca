"""One order's fold through a run of its events: which events are new, applying them in sequence
order, and what they add to the counters. Live batches and replay's bulk load share it.
"""

from __future__ import annotations

from collections.abc import Iterable

from eventlog.codec import Recorded
from projections.order_counters import CounterDeltas, count_event, count_transition
from projections.order_rows import ProjectedOrder
from schema.order_state import OrderState
from schema.order_state import apply as apply_event


class OrderFold:
    """An order's progress: where its row stood (`before`), the events applied since, and the
    events at hand that cannot be applied yet (a gap before them)."""

    __slots__ = ("applied", "before", "last", "state", "waiting")

    def __init__(self, before: ProjectedOrder | None) -> None:
        self.before = before
        self.state = before.state if before is not None else None
        self.last: Recorded | None = None  # the last event applied
        self.waiting: dict[int, Recorded] = {}  # events not applied yet, by sequence
        self.applied: list[tuple[Recorded, OrderState]] = []

    @property
    def sequence(self) -> int:
        return self.state.sequence if self.state is not None else 0

    def take(self, events: Iterable[Recorded]) -> list[Recorded]:
        """Queue the events past where the order stands and not at hand yet; returns them: the
        events new to the projection (a redelivered one is neither)."""
        standing, waiting = self.sequence, self.waiting
        new: list[Recorded] = []
        for recorded in events:
            sequence = recorded.event.sequence
            if sequence > standing and sequence not in waiting:
                waiting[sequence] = recorded
                new.append(recorded)
        return new

    def advance(self) -> None:
        """Apply waiting events for as long as the next one is at hand."""
        waiting = self.waiting
        while (recorded := waiting.pop(self.sequence + 1, None)) is not None:
            self.state = apply_event(self.state, recorded.event)
            self.last = recorded
            self.applied.append((recorded, self.state))

    def after(self) -> ProjectedOrder | None:
        """Where the order stands now (None if no event was applied since `before`)."""
        if self.last is None or self.state is None:
            return None
        return ProjectedOrder(self.state, self.last.event.type, self.last.position)

    def count(self, deltas: CounterDeltas) -> ProjectedOrder | None:
        """Add what the events applied since `before` change to `deltas`; returns `after()`."""
        after = self.after()
        if after is None:
            return None
        for recorded, state in self.applied:
            count_event(deltas, state, recorded.event)
        count_transition(deltas, self.before, after)
        return after

    def settle(self, deltas: CounterDeltas) -> None:
        """Count what the events applied so far change and forget them: the fold then counts
        on from where the order stands, holding one state however many events it has seen
        (the transitions of each stretch add up to the whole move)."""
        if (after := self.count(deltas)) is not None:
            self.before = after
            self.applied.clear()
