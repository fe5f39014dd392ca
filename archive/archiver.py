"""The archiver: consumer group `archive` copies every event of the log, in batches and in log
order, into the append-only `event_archive` table, through COPY. Exactly once: a batch is copied
into a scratch table and moved into the archive in one transaction that skips positions it holds
already, and the consumer acks only after the commit, so a batch redelivered after a crash (or
taken by two archivers) adds nothing twice. The archive keeps each event's JSON exactly as the
log's entry holds it.

Once a batch is committed, the orders it ends (and its single-event venue entries) are listed in
`finished_orders`: their position lists may leave Redis when the log is trimmed past them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from psycopg import AsyncConnection

from archive.partitions import ensure_partitions, month_of
from eventlog.codec import Recorded, encode, position_key, position_score
from eventlog.connections import OwnConnection
from eventlog.keys import Keys
from eventlog.trim_point import ARCHIVE_GROUP
from schema.statuses import STATUS_AFTER_EVENT, is_terminal

logger = logging.getLogger(__name__)

# Entries after which nothing more is appended to their order id.
FINISHING_TYPES = frozenset(
    {kind for kind, status in STATUS_AFTER_EVENT.items() if is_terminal(status)} | {"MarketMoved"}
)

__all__ = ["ARCHIVE_GROUP", "EventArchiver"]

_SCRATCH = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS archive_batch"
    " (LIKE event_archive INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY = "COPY archive_batch (position_ms, position_seq, order_id, type, data) FROM STDIN"
_MOVE = (
    "INSERT INTO event_archive SELECT * FROM archive_batch"
    " ON CONFLICT (position_ms, position_seq) DO NOTHING"
)


class EventArchiver:
    """Archives the batches its consumer hands it, over its own connection (`connect`, from the
    composition root, opens one in autocommit mode, again after a loss)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[AsyncConnection]],
        redis: aioredis.Redis,
        keys: Keys,
    ) -> None:
        self._conn = OwnConnection(connect)
        self._redis = redis
        self._keys = keys
        self.archived = 0

    async def handle(self, batch: Sequence[Recorded]) -> None:
        if not batch:
            return
        rows = [_row(recorded) for recorded in batch]
        conn = await self._conn.get()
        async with conn.transaction():
            await ensure_partitions(conn, {month_of(row[0]) for row in rows})
            await conn.execute(_SCRATCH)
            async with conn.cursor() as cursor:
                async with cursor.copy(_COPY) as copy:
                    for row in rows:
                        await copy.write_row(row)
                moved = await cursor.execute(_MOVE)
                added = moved.rowcount
        self.archived += added
        finished = {
            str(r.event.order_id): position_score(r.position)
            for r in batch
            if r.event.type in FINISHING_TYPES
        }
        if finished:
            await self._redis.zadd(self._keys.finished_orders, finished)
        logger.debug(
            "archived %d of %d events up to position=%s", added, len(rows), batch[-1].position
        )

    async def close(self) -> None:
        await self._conn.close()


def _row(recorded: Recorded) -> tuple[int, int, str, str, str]:
    ms, seq = position_key(recorded.position)
    event = recorded.event
    data = recorded.data if recorded.data is not None else encode(event)[b"data"]
    return ms, seq, str(event.order_id), event.type, data.decode()
