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

from eventlog.archive_source import ArchiveSource
from eventlog.codec import Recorded
from eventlog.keys import Keys
from eventlog.reading import entries_after
from projections.appliable import Skipped, decode_appliable


def partition_of(order_id: bytes, parts: int) -> int:
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
        self._chunk = chunk
        self._end = end or "+"
        self._part = part
        self._parts = parts
        self.position = after  # the last position read
        self.read = 0  # entries read (in every partition)
        self.skipped: list[Skipped] = []  # entries of this partition a projection cannot apply

    async def _fetch(self, after: str | None) -> tuple[list[Recorded], str | None, int]:
        entries = await entries_after(
            self._redis, self._keys, after, self._chunk, self._archive, self._end
        )
        if not entries:
            return [], after, 0
        last, count = entries[-1][0].decode(), len(entries)
        if self._parts > 1:
            part, parts = self._part, self._parts
            entries = [
                e for e in entries if partition_of(e[1].get(b"order_id", b""), parts) == part
            ]
        return decode_appliable(entries, self.skipped), last, count

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
                if count < self._chunk or last == self._end:
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
