"""Where the log's history lives once Redis no longer holds it: the archive (a PostgreSQL table
the `archive` group fills, see `archive/`). Reads that span both take an `ArchiveSource`; it
answers with entries in the shape XRANGE gives (`(position, {b"type", b"order_id", b"data"})`),
at the same positions, so a reader cannot tell which store an entry came from."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

Entry = tuple[bytes, dict[bytes, bytes]]


class ArchiveSource(Protocol):
    async def entries_between(
        self, after: str | None, before: str, count: int, part: int = 0, parts: int = 1
    ) -> list[Entry]:
        """Up to `count` entries after position `after` (None: from the start) and before
        `before`, in log order; with `parts` > 1 only those of orders in partition `part`
        (`projections.log_reader.partition_of`)."""

    async def order_entries(self, order_id: uuid.UUID) -> list[Entry]:
        """Every archived entry of one order, in log order."""

    async def first_entries(self, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Entry]:
        """The first archived entry of each order that has one."""
