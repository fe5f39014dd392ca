"""The query side's reads of one order from the log, the system of record: for an order not
projected yet (read-your-writes), while PostgreSQL is unreachable, and for a stream's catch-up."""

from __future__ import annotations

import uuid

from starlette.requests import HTTPConnection

from api.auth import may_see, sees_everything
from api.resources import Resources, resources
from eventlog.codec import Recorded
from eventlog.reading import order_sequence, read_first, read_order
from schema.events import OrderPlaced
from schema.order_state import OrderState, fold


async def order_history(res: Resources, order_id: uuid.UUID) -> list[Recorded]:
    """Every event of the order in sequence order; empty for an unknown order (and for the id of
    anything else in the log: a pool's launch is not an order)."""
    history = await read_order(res.redis, res.keys, order_id, res.archive)
    return history if history and isinstance(history[0].event.payload, OrderPlaced) else []


def state_of(history: list[Recorded]) -> OrderState | None:
    """The order's state folded from its history; None for an unknown order."""
    return fold(recorded.event for recorded in history)


async def placed_by(res: Resources, order_id: uuid.UUID) -> str | None:
    """The client that placed the order, from its first event; None for an unknown order (or
    one placed before owners were recorded)."""
    first = await read_first(res.redis, res.keys, order_id, res.archive)
    placed = first is not None and isinstance(first.event.payload, OrderPlaced)
    state = fold([first.event]) if first is not None and placed else None
    return state.client_id if state is not None else None


async def owns(connection: HTTPConnection, order_id: uuid.UUID) -> bool:
    """Whether the caller may see (and cancel) the order: an operator or keys off always; a
    client only its own."""
    if sees_everything(connection):
        return True
    return may_see(connection, await placed_by(resources(connection), order_id))


async def logged_events(res: Resources, order_id: uuid.UUID) -> int:
    """How many events the log holds for the order (one round trip, no decoding)."""
    return await order_sequence(res.redis, res.keys, order_id)
