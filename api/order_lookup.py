"""Reads of single orders from the `orders` table, grouped: the GETs that arrive in the same
event-loop turn (and while a read is on its way) share one `WHERE id = ANY(…)` query, so under load
PostgreSQL and the driver do one round trip for many requests. Each caller gets its own row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from eventlog.batching import TurnBatcher
from schema.read_model_columns import JSON_COLUMNS, ORDER_VIEW_FIELDS

# Every column the order view needs (jsonb as text: orjson parses it faster than the driver).
ORDER_VIEW_SELECT = ", ".join(
    f"{column}::text AS {column}" if column in JSON_COLUMNS else column
    for column in (*ORDER_VIEW_FIELDS, "last_position", "client_id")
)
_ORDERS_BY_ID = f"SELECT {ORDER_VIEW_SELECT} FROM orders WHERE id = ANY(%s)"

Row = dict[str, Any]


async def fetch_rows(pool: AsyncConnectionPool, query: str, params: Sequence[Any]) -> list[Row]:
    """One read-only statement on a pooled connection, rows as dicts."""
    async with pool.connection() as conn:
        # One statement needs no transaction: autocommit saves the BEGIN and COMMIT round trips.
        # Only client-side state; it is put back before the connection returns to the pool.
        await conn.set_autocommit(True)
        try:
            async with conn.cursor(row_factory=dict_row) as cursor:
                # Unprepared, planned with its values: a generic plan made while the tables
                # were near empty would scan them (projections/orders_projection.py).
                await cursor.execute(query, params, prepare=False)
                return await cursor.fetchall()
        finally:
            await conn.set_autocommit(False)


class OrderLookup:
    """`await lookup.get(order_id)`: the order's row, or None when it is not projected. A caller
    that stops waiting (a timeout) is dropped from the batches still to come."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._batcher: TurnBatcher[uuid.UUID, Row | None] = TurnBatcher(self._read)

    async def get(self, order_id: uuid.UUID) -> Row | None:
        return await self._batcher.submit(order_id)

    async def _read(self, order_ids: Sequence[uuid.UUID]) -> list[Row | None]:
        rows = await fetch_rows(self._pool, _ORDERS_BY_ID, (list(set(order_ids)),))
        by_id = {row["id"]: row for row in rows}
        return [by_id.get(order_id) for order_id in order_ids]
