"""A projector: the handler a projection's consumer calls, applying each batch in one PostgreSQL
transaction over a connection of its own. The consumer acks only after the handler returned (after
the commit), so a batch redelivered after a crash changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from psycopg import AsyncConnection

from eventlog.codec import Recorded
from eventlog.connections import OwnConnection
from projections.appliable import split_appliable
from projections.projection import Projection, apply_batch

logger = logging.getLogger(__name__)


class Projector:
    """Applies the batches its consumer hands it to one projection, over its own connection:
    `connect` (from the composition root) opens one in autocommit mode, again after a loss."""

    def __init__(
        self, projection: Projection, connect: Callable[[], Awaitable[AsyncConnection]]
    ) -> None:
        self.projection = projection
        self._conn = OwnConnection(connect)
        self.applied = 0

    async def handle(self, batch: Sequence[Recorded]) -> None:
        batch, _ = split_appliable(batch)  # each skipped one is logged
        if not batch:
            return
        conn = await self._conn.get()
        applied = await apply_batch(conn, self.projection, batch)
        self.applied += applied
        logger.debug(
            "%s: applied %d of %d events up to position=%s",
            self.projection.name,
            applied,
            len(batch),
            batch[-1].position,
        )

    async def close(self) -> None:
        await self._conn.close()
