"""Who placed each order, for the streams that show a client only its own orders. Only an order's
OrderPlaced names its owner (`client_id`, never sent to clients), so the owners of the orders seen
lately are kept, bounded, oldest forgotten first; an order not kept is looked up in the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import redis.asyncio as aioredis

from eventlog.archive_source import ArchiveSource
from eventlog.codec import Recorded
from eventlog.keys import Keys
from eventlog.reading import read_firsts
from schema.events import VENUE_EVENT_TYPES, Event, OrderPlaced, Payload

OWNERS_KEPT = 50_000  # orders whose owner is kept in memory, per API process


class OrderOwners:
    """order id → the client id that placed it (None: placed without one, so no client's)."""

    def __init__(self, limit: int = OWNERS_KEPT) -> None:
        self._owners: dict[uuid.UUID, str | None] = {}
        self._limit = limit

    def learn(self, event: Event[Payload]) -> None:
        """Keep the owner an OrderPlaced names, and no owner for a venue's event (a launch is
        no client's); any other event is left alone."""
        payload = event.payload
        if isinstance(payload, OrderPlaced):
            self._keep(event.order_id, payload.client_id)
        elif event.type in VENUE_EVENT_TYPES:
            self._keep(event.order_id, None)

    def get(self, order_id: uuid.UUID) -> str | None:
        return self._owners.get(order_id)

    def missing(self, order_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
        """The distinct orders among `order_ids` whose owner is not kept."""
        owners = self._owners
        return list({order_id for order_id in order_ids if order_id not in owners})

    async def look_up(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        order_ids: list[uuid.UUID],
        archive: ArchiveSource | None = None,
    ) -> None:
        """Read the owners of `order_ids` from their first events (one batch of reads)."""
        for recorded in (await read_firsts(redis, keys, order_ids, archive)).values():
            self.learn(recorded.event)

    async def resolve(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        page: list[Recorded],
        archive: ArchiveSource | None = None,
    ) -> None:
        """Make the owner of every order in `page` known (as far as the log knows it)."""
        for recorded in page:
            self.learn(recorded.event)
        missing = self.missing(recorded.event.order_id for recorded in page)
        if missing:
            await self.look_up(redis, keys, missing, archive)

    def _keep(self, order_id: uuid.UUID, owner: str | None) -> None:
        owners = self._owners
        owners[order_id] = owner
        while len(owners) > self._limit:
            del owners[next(iter(owners))]
