"""Reading the archive back, in the shape of the log's own entries (`eventlog.archive_source`):
by position range (the global stream's resume, replay) and by order (an order's history). Each
read borrows a connection for one statement: from the API's pool, or from a small pool of the
process's own."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from psycopg import AsyncConnection, sql

from eventlog.archive_source import Entry
from eventlog.codec import position_key

Borrow = Callable[[], AbstractAsyncContextManager[AsyncConnection[Any]]]

_COLUMNS = "position_ms, position_seq, order_id, type, data"
_ORDER = "ORDER BY position_ms, position_seq"
# An order's partition for a split replay: its id's last 32 bits, as the log reader takes them.
_PARTITION = "('x' || lpad(right(order_id::text, 8), 16, '0'))::bit(64)::bigint"


def lend(conn: AsyncConnection[Any]) -> Borrow:
    """Borrowing one connection of the caller's (in autocommit mode), one read at a time."""
    turn = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def borrow() -> AsyncIterator[AsyncConnection[Any]]:
        async with turn:
            yield conn

    return borrow


def _entry(row: tuple[Any, ...]) -> Entry:
    ms, seq, order_id, kind, data = row
    fields = {b"type": kind.encode(), b"order_id": str(order_id).encode(), b"data": data.encode()}
    return f"{ms}-{seq}".encode(), fields


class ArchiveReader:
    """The archive as an `ArchiveSource`, in table `table` (schema-qualified where the reader's
    connections use another search path, as replay's do)."""

    def __init__(self, borrow: Borrow, table: sql.Composable | None = None) -> None:
        self._borrow = borrow
        self._table = table if table is not None else sql.Identifier("event_archive")

    async def _rows(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        statement = sql.SQL(query).format(table=self._table)
        async with self._borrow() as conn:
            cursor = await conn.execute(statement, params)
            return await cursor.fetchall()

    async def entries_between(
        self, after: str | None, before: str, count: int, part: int = 0, parts: int = 1
    ) -> list[Entry]:
        low = position_key(after) if after is not None else (-1, -1)
        share = f" AND {_PARTITION} %% %s = %s" if parts > 1 else ""
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM {{table}}"
            " WHERE (position_ms, position_seq) > (%s, %s)"
            f" AND (position_ms, position_seq) < (%s, %s){share}"
            f" {_ORDER} LIMIT %s",
            [*low, *position_key(before), *((parts, part) if parts > 1 else ()), count],
        )
        return [_entry(row) for row in rows]

    async def order_entries(self, order_id: uuid.UUID) -> list[Entry]:
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM {{table}} WHERE order_id = %s {_ORDER}", [order_id]
        )
        return [_entry(row) for row in rows]

    async def first_entries(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Entry]:
        if not order_ids:
            return {}
        rows = await self._rows(
            f"SELECT DISTINCT ON (order_id) {_COLUMNS} FROM {{table}}"
            " WHERE order_id = ANY(%s) ORDER BY order_id, position_ms, position_seq",
            [list(order_ids)],
        )
        return {uuid.UUID(str(row[2])): _entry(row) for row in rows}
