"""The query side's reads of one order from the log, the system of record: for an order not
projected yet (read-your-writes), while PostgreSQL is unreachable, and for a stream's catch-up."""

from __future__ import annotations

import uuid

from api.resources import Resources
from eventlog.codec import Recorded
from eventlog.reading import order_sequence, read_order
from schema.order_state import OrderState, fold


async def order_history(res: Resources, order_id: uuid.UUID) -> list[Recorded]:
    """Every event of the order in sequence order; empty for an unknown order."""
    return await read_order(res.redis, res.keys, order_id)


def state_of(history: list[Recorded]) -> OrderState | None:
    """The order's state folded from its history; None for an unknown order."""
    return fold(recorded.event for recorded in history)


async def logged_events(res: Resources, order_id: uuid.UUID) -> int:
    """How many events the log holds for the order (one round trip, no decoding)."""
    return await order_sequence(res.redis, res.keys, order_id)
