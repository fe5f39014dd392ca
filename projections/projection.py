"""What a projection is, and the one transaction every batch of it is applied in, live or replay.

A batch runs under a shared advisory lock of its projection (replay's swap takes it exclusively, so
no live batch commits while tables are swapped) and commits before the consumer acks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from psycopg import AsyncConnection

from eventlog.codec import Recorded

# The advisory-lock key of a projection in the current schema: taken shared by every batch,
# exclusively by replay while it swaps the rebuilt tables in.
_PROJECTION_LOCK_KEY = "hashtextextended(current_schema() || ':projection:' || %s, 0)"


class BulkLoad(Protocol):
    """Loads one partition of the log (every event of its orders, in log order, from the start)
    into a projection's tables that nobody else writes meanwhile: replay's fast path. It must fold
    and build rows with the very code `Projection.apply` uses, so the tables end up the same."""

    async def add(self, conn: AsyncConnection, batch: Sequence[Recorded]) -> int:
        """Load the next events of the partition; returns how many were new."""
        ...

    async def finish(self, conn: AsyncConnection) -> None:
        """Write whatever the loader still holds."""
        ...


class Projection(Protocol):
    """Applies batches of events to read tables, idempotently, inside the caller's transaction."""

    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables this projection alone writes: what a replay rebuilds and swaps."""
        ...

    async def apply(self, conn: AsyncConnection, batch: Sequence[Recorded]) -> int:
        """Apply `batch`; returns how many of its events were new to this projection."""
        ...

    def bulk_load(self) -> BulkLoad:
        """A loader for one partition of a replay into this projection's empty shadow tables."""
        ...


async def lock_projection(conn: AsyncConnection, name: str, *, exclusive: bool) -> None:
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await conn.execute(f"SELECT {function}({_PROJECTION_LOCK_KEY})", (name,))


async def apply_batch(
    conn: AsyncConnection, projection: Projection, batch: Sequence[Recorded]
) -> int:
    """Apply `batch` in one transaction with its tracking rows; returns the events new to it."""
    async with conn.transaction():
        await lock_projection(conn, projection.name, exclusive=False)
        return await projection.apply(conn, batch)
