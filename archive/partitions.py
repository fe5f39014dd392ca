"""The archive's monthly partitions: which month a log position falls in, and creating that
month's partition before its first event is written. Log positions are Redis stream ids, whose
first part is milliseconds since the epoch (Redis time)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from psycopg import AsyncConnection, sql

# Serialises partition creation between archivers (a transaction-level advisory lock).
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':event-archive', 0))"


def month_of(position_ms: int) -> tuple[int, int]:
    moment = datetime.fromtimestamp(position_ms / 1000, UTC)
    return moment.year, moment.month


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """The first millisecond of the month and of the next one."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def partition_name(year: int, month: int) -> str:
    return f"event_archive_{year:04d}_{month:02d}"


async def ensure_partitions(conn: AsyncConnection, months: Iterable[tuple[int, int]]) -> None:
    """Create the partitions of these months that do not exist yet (inside the caller's
    transaction)."""
    wanted = sorted(set(months))
    if not wanted:
        return
    found = await conn.execute(
        "SELECT c.relname FROM pg_inherits AS i"
        " JOIN pg_class AS c ON c.oid = i.inhrelid"
        " JOIN pg_class AS p ON p.oid = i.inhparent"
        " WHERE p.relname = 'event_archive' AND p.relnamespace = current_schema()::regnamespace"
    )
    existing = {row[0] for row in await found.fetchall()}
    missing = [m for m in wanted if partition_name(*m) not in existing]
    if not missing:
        return
    await conn.execute(_LOCK)
    for year, month in missing:
        start, end = month_bounds(year, month)
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF event_archive"
                " FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(partition_name(year, month)), sql.Literal(start), sql.Literal(end)
            )
        )
