"""Reading the log in bulk for a rebuild: in chunks, one chunk ahead of the consumer, never
through a consumer group; from the archive below what Redis still holds, then XRANGE. Optionally
only one partition of the orders (by a hash of the order id, so all of an order's events, in log
order, go to the same reader) and only up to a position. Entries a projection cannot apply are
left out and listed (`projections.appliable`).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from eventlog.archive_source import ArchiveSource, Entry
from eventlog.codec import Recorded, position_key
from eventlog.keys import Keys
from eventlog.reading import archived_after, held_after, trimmed_after
from projections.appliable import Skipped, decode_appliable


def partition_of(order_id: bytes, parts: int) -> int:
    """The partition of an order: its id's last 32 bits (uuids are random there), modulo
    `parts`; the archive computes the same in SQL (`archive.reader`). An id that is not hex
    (an undecodable entry, never archived) goes by its CRC."""
    try:
        return int(order_id[-8:], 16) % parts
    except ValueError:
        return zlib.crc32(order_id) % parts


class LogReader:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        chunk: int,
        *,
        after: str | None = None,
        end: str | None = None,
        part: int = 0,
        parts: int = 1,
        archive: ArchiveSource | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._archive = archive
        self._archive_done = archive is None
        self._archived_below: str | None = None  # Redis's oldest entry when the archive was read
        self._from_archive = False  # whether the last page came from the archive
        self._chunk = chunk
        self._end = end or "+"
        self._part_of = (part, parts, self._end)
        self._part = part
        self._parts = parts
        self.position = after  # the last position read
        self.read = 0  # entries read: every one Redis held, archived ones of this partition only
        self.archived_read = 0  # of them, from the archive
        self.skipped: list[Skipped] = []  # entries of this partition a projection cannot apply

    async def _fetch(self, after: str | None) -> tuple[list[Recorded], str | None, int]:
        entries: list[Entry] = []
        if self._archive is not None and not self._archive_done:
            # This partition's share of what was trimmed, filtered by the archive itself.
            entries, self._archived_below = await archived_after(
                self._redis, self._keys, self._archive, after, self._chunk, self._part_of
            )
            self._archive_done = not entries
            self._from_archive = bool(entries)
            if entries:
                self.archived_read += len(entries)
                return self._decode(entries), entries[-1][0].decode(), len(entries)
        self._from_archive = False
        entries, first = await held_after(self._redis, self._keys, after, self._chunk, self._end)
        if self._trimmed_since_archive_read(after, first):
            self._archive_done = False  # what was trimmed meanwhile is the archive's to give
            return await self._fetch(after)
        if not entries:
            return [], after, 0
        last, count = entries[-1][0].decode(), len(entries)
        if self._parts > 1:
            part, parts = self._part, self._parts
            entries = [
                e for e in entries if partition_of(e[1].get(b"order_id", b""), parts) == part
            ]
        return self._decode(entries), last, count

    def _trimmed_since_archive_read(self, after: str | None, first: str | None) -> bool:
        """Whether entries after `after` left Redis after the archive was last asked for them
        (an archive without them, a log trimmed by hand, is not asked again)."""
        if self._archive is None or first is None or not trimmed_after(after, first):
            return False
        below = self._archived_below
        return below is None or position_key(first) > position_key(below)

    def _decode(self, entries: list[Entry]) -> list[Recorded]:
        return decode_appliable(entries, self.skipped)

    async def chunks(self) -> AsyncIterator[list[Recorded]]:
        """Chunks until the log (or `end`) is reached; a chunk may be empty in a partition."""
        ahead = asyncio.ensure_future(self._fetch(self.position))
        try:
            while True:
                batch, last, count = await ahead
                if count == 0:
                    return
                self.position = last
                self.read += count
                # A short page of Redis's is its end now; a short archive page is not (it holds
                # only this partition's share), and Redis's entries follow it.
                short = count < self._chunk and not self._from_archive
                if short or last == self._end:
                    yield batch
                    return
                ahead = asyncio.ensure_future(self._fetch(self.position))
                yield batch
        finally:
            ahead.cancel()

    async def rest(self) -> list[Recorded]:
        """Everything after the last position, up to the log's end now."""
        found: list[Recorded] = []
        while True:
            batch, last, count = await self._fetch(self.position)
            if count == 0:
                return found
            found += batch
            self.position = last
            self.read += count
