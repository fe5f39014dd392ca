"""The statements that write the `orders` projection's tables: upserts for live batches, which may
meet rows already there, and binary COPY for replay's bulk load into tables it alone fills.
Both take their rows from `projections.order_rows`, so either way a row holds the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from psycopg import AsyncConnection, sql
from psycopg.types.json import set_json_dumps

from eventlog.codec import Recorded
from projections.order_counters import CounterDeltas
from projections.order_rows import (
    ProjectedOrder,
    event_row,
    event_values,
    json_default,
    order_row,
    order_values,
)
from schema.read_model_columns import (
    EVENT_COLUMN_TYPES,
    EVENT_COLUMNS,
    ORDER_COLUMN_TYPES,
    ORDER_COLUMNS,
)


def _recordset(types: dict[str, str]) -> str:
    return ", ".join(f"{name} {sql_type}" for name, sql_type in types.items())


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, default=json_default).decode()


_INSERT_EVENTS = f"""
INSERT INTO order_events ({", ".join(EVENT_COLUMNS)})
SELECT {", ".join(EVENT_COLUMNS)}
FROM jsonb_to_recordset(%s::jsonb) AS r({_recordset(EVENT_COLUMN_TYPES)})
ON CONFLICT (order_id, sequence) DO NOTHING
"""

_UPSERT_ORDERS = f"""
INSERT INTO orders ({", ".join(ORDER_COLUMNS)})
SELECT {", ".join(ORDER_COLUMNS)}
FROM jsonb_to_recordset(%s::jsonb) AS r({_recordset(ORDER_COLUMN_TYPES)})
ON CONFLICT (id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS if c != "id")},
    projected_at = now()
WHERE orders.sequence < EXCLUDED.sequence
"""

_ADD_COUNTERS = """
INSERT INTO metric_counters (name, label, value)
SELECT * FROM unnest(%s::text[], %s::text[], %s::numeric[])
ON CONFLICT (name, label) DO UPDATE SET value = metric_counters.value + EXCLUDED.value
"""


def _copy(table: str, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


_COPY_EVENTS = _copy("order_events", EVENT_COLUMNS)
_COPY_ORDERS = _copy("orders", ORDER_COLUMNS)


def _already_json(value: bytes) -> bytes:
    return value


async def insert_events(conn: AsyncConnection, events: Sequence[Recorded]) -> None:
    """History rows; one already there (same order and sequence) is left as it is."""
    await conn.execute(_INSERT_EVENTS, (_json([event_row(r) for r in events]),))


async def upsert_orders(conn: AsyncConnection, orders: Sequence[ProjectedOrder]) -> None:
    """Order rows; a row only ever moves forward (to a higher sequence)."""
    if orders:
        await conn.execute(_UPSERT_ORDERS, (_json([order_row(o) for o in orders]),))


async def add_counters(conn: AsyncConnection, deltas: CounterDeltas) -> None:
    """Add the deltas to the counters (sorted keys: a fixed lock order between projectors)."""
    counters = deltas.rows()
    await conn.execute(
        _ADD_COUNTERS,
        ([c[0] for c in counters], [c[1] for c in counters], [c[2] for c in counters]),
    )


async def _copy_rows(
    conn: AsyncConnection,
    statement: sql.Composed,
    types: dict[str, str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    async with conn.cursor() as cursor:
        set_json_dumps(_already_json, context=cursor)  # jsonb values are JSON bytes already
        async with cursor.copy(statement) as copy:
            copy.set_types(list(types.values()))
            for row in rows:
                await copy.write_row(row)


async def copy_events(conn: AsyncConnection, events: Sequence[Recorded]) -> None:
    """History rows into a table that holds none of them (a duplicate key fails the COPY)."""
    if events:
        await _copy_rows(conn, _COPY_EVENTS, EVENT_COLUMN_TYPES, [event_values(r) for r in events])


async def copy_orders(conn: AsyncConnection, orders: Sequence[ProjectedOrder]) -> None:
    """Order rows into a table that holds none of them (a duplicate key fails the COPY)."""
    if orders:
        await _copy_rows(conn, _COPY_ORDERS, ORDER_COLUMN_TYPES, [order_values(o) for o in orders])
