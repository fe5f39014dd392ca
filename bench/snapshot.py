"""Row-for-row snapshots of read tables, for checking that a rebuild equals what live projection
built. Projection timestamps (when a row was written, not what happened) are left out.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

# Columns that say when a projector wrote a row: they differ between any two builds.
PROJECTION_TIME_COLUMNS = frozenset({"projected_at", "applied_at"})


async def table_snapshot(conn: AsyncConnection, table: str) -> list[tuple[Any, ...]]:
    """Every row of `table` (current search_path), without projection times, in a fixed order."""
    cursor = await conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    columns = [row[0] for row in await cursor.fetchall() if row[0] not in PROJECTION_TIME_COLUMNS]
    if not columns:
        raise LookupError(f"no table {table!r} in the current schema")
    query = sql.SQL("SELECT {cols} FROM {table} ORDER BY {order}").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        table=sql.Identifier(table),
        order=sql.SQL(", ").join(sql.Literal(i) for i in range(1, len(columns) + 1)),
    )
    cursor = await conn.execute(query)
    return list(await cursor.fetchall())


async def snapshot(conn: AsyncConnection, tables: tuple[str, ...]) -> dict[str, list[Any]]:
    return {table: await table_snapshot(conn, table) for table in tables}
