"""Failure scripts: deterministic venue failures for tests, shared by all processes (the simulated
venues' swap script in `processors.market` reads them).

Each swap attempt consumes the first entry of the order's script, else of the global one; an entry
set with `fail_always` is never consumed, and "OK" lets that attempt through."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from eventlog.keys import Keys
from processors.errors import ErrorCode

SUCCEED = "OK"


class FailureScript:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def fail_next(self, *codes: ErrorCode | str, order_id: uuid.UUID | None = None) -> None:
        """The next swap attempts answer these codes, one per attempt ("OK" lets one through)."""
        if codes:
            entries = [code if code == SUCCEED else ErrorCode(code) for code in codes]
            await self._redis.rpush(self._keys.venue_failures(order_id), *entries)

    async def fail_always(
        self, code: ErrorCode | str, *, order_id: uuid.UUID | None = None
    ) -> None:
        """Every swap attempt answers `code` from now on (until `clear`)."""
        key = self._keys.venue_failures(order_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.rpush(key, f"{ErrorCode(code)}*")
            await pipe.execute()

    async def clear(self, *, order_id: uuid.UUID | None = None) -> None:
        await self._redis.delete(self._keys.venue_failures(order_id))

    async def remaining(self, *, order_id: uuid.UUID | None = None) -> list[str]:
        entries = await self._redis.lrange(self._keys.venue_failures(order_id), 0, -1)
        return [entry.decode() if isinstance(entry, bytes) else entry for entry in entries]
