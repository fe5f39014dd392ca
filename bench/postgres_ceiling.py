"""PostgreSQL's own bulk-load rate on this machine, the ceiling of the projector's writes: binary
COPY of rows exactly like the `orders` rows the projector wrote (copied with fresh ids up to the
count asked for) into a scratch table with the same columns and primary key in the benchmark's
schema, committed; rows per second of the COPY and its commit alone (PostgreSQL encodes the rows
beforehand). The scratch table is dropped afterwards."""

from __future__ import annotations

import math
import time
from typing import Any

import psycopg
from psycopg import sql

from schema.read_model_columns import ORDER_COLUMNS

SCRATCH = "copy_ceiling"
# Each row is held in memory, encoded, before the COPY: about 1 KB of the sample orders' rows.
MAX_ROWS = 20_000


class NothingToCopyError(RuntimeError):
    def __init__(self) -> None:
        super().__init__("the COPY ceiling copies projected orders rows, and there are none")


async def _encoded_rows(conn: psycopg.AsyncConnection, rows: int) -> list[bytes]:
    """`rows` of the projected orders, each with a fresh id, in COPY's binary format."""
    row = await (await conn.execute("SELECT count(*) FROM orders")).fetchone()
    held = row[0] if row else 0
    if not held:
        raise NothingToCopyError()
    others = [sql.Identifier(c) for c in ORDER_COLUMNS if c != "id"]
    query = sql.SQL(
        "COPY (SELECT gen_random_uuid(), {} FROM orders CROSS JOIN generate_series(1, {})"
        " LIMIT {}) TO STDOUT (FORMAT BINARY)"
    ).format(sql.SQL(", ").join(others), math.ceil(rows / held), rows)
    async with conn.cursor() as cursor, cursor.copy(query) as copy:
        return [bytes(data) async for data in copy]


async def copy_per_second(database_url: str, rows: int) -> dict[str, Any]:
    """Rows/s of a binary COPY of `rows` (at most MAX_ROWS) orders rows into a table like
    `orders`, and the rows' size in COPY's binary format."""
    rows = min(rows, MAX_ROWS)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in ORDER_COLUMNS)
    scratch = sql.Identifier(SCRATCH)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        encoded = await _encoded_rows(conn, rows)
        await conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE orders INCLUDING DEFAULTS INCLUDING INDEXES)").format(
                scratch
            )
        )
        try:
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(scratch, columns)
            started = time.perf_counter()
            async with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
                for data in encoded:
                    await copy.write(data)
            elapsed = time.perf_counter() - started
        finally:
            await conn.execute(sql.SQL("DROP TABLE {}").format(scratch))
    return {
        "rows": rows,
        "rowBytes": round(sum(map(len, encoded)) / rows),
        "rowsPerSecond": round(rows / elapsed),
    }
