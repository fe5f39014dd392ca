"""The three reads of a consumer in a group: its own pending entries or new ones (XREADGROUP),
entries idle too long at other consumers (XAUTOCLAIM), and how often each was delivered."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

# A stream entry as Redis returns it: position and fields (None once the entry was deleted).
RawEntry = tuple[bytes, dict[bytes, bytes] | None]
# ... and how many times it has been delivered to this group.
Delivery = tuple[bytes, dict[bytes, bytes] | None, int]


class GroupReads:
    def __init__(self, redis: aioredis.Redis, stream: str, group: str, consumer: str) -> None:
        self._redis = redis
        self._stream = stream
        self._group = group
        self._consumer = consumer

    async def read(self, count: int, start: str, *, block_ms: int | None) -> list[RawEntry]:
        """`start` "0": this consumer's pending entries; ">": entries no consumer has had."""
        reply: Any = await self._redis.xreadgroup(
            self._group, self._consumer, {self._stream: start}, count=count, block=block_ms
        )
        if not reply:
            return []
        return list(reply[0][1])

    async def claim(self, count: int, min_idle_ms: int) -> list[RawEntry]:
        reply: Any = await self._redis.xautoclaim(
            self._stream,
            self._group,
            self._consumer,
            min_idle_time=min_idle_ms,
            start_id="0-0",
            count=count,
        )
        return list(reply[1])

    async def with_delivery_counts(self, entries: list[RawEntry]) -> list[Delivery]:
        ids = [position for position, _ in entries]
        pending: Any = await self._redis.xpending_range(
            self._stream,
            self._group,
            min=min(ids),
            max=max(ids),
            count=len(ids) * 2,
            consumername=self._consumer,
        )
        counts: dict[bytes, int] = {item["message_id"]: item["times_delivered"] for item in pending}
        return [(position, fields, counts.get(position, 1)) for position, fields in entries]

    async def ack(self, *positions: bytes | str) -> None:
        await self._redis.xack(self._stream, self._group, *positions)
