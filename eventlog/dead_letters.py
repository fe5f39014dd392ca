"""A group's failed entries in one partition of the log: the last error of each entry that failed
(kept until it is handled or dead-lettered), and the partition's dead-letter stream that takes an
entry delivered too often, with its error and origin, acked in the same transaction."""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aioredis

from eventlog.keys import Keys

logger = logging.getLogger(__name__)


class DeadLetters:
    def __init__(
        self, redis: aioredis.Redis, keys: Keys, group: str, consumer: str, partition: int = 0
    ) -> None:
        self._redis = redis
        self._group = group
        self._consumer = consumer
        self._stream = keys.stream(partition)
        self._dead_letters = keys.dead_letters_in(partition)
        self._errors = keys.entry_errors(group, partition)

    async def record_error(self, position: str, error: BaseException) -> None:
        await self._redis.hset(self._errors, position, f"{type(error).__name__}: {error}")

    async def last_error(self, position: bytes | str) -> str:
        error: Any = await self._redis.hget(self._errors, position)
        return error.decode() if error else "no error recorded (consumer died?)"

    async def send(
        self, position: bytes | str, fields: dict[bytes, bytes], reason: str, deliveries: int
    ) -> None:
        """Move the entry to the dead-letter stream and ack it, in one transaction."""
        pos = position.decode() if isinstance(position, bytes) else position
        order_id = fields.get(b"order_id", b"?").decode(errors="replace")
        logger.error(
            "%s: dead-lettering entry position=%s order_id=%s after %d deliveries: %s",
            self._group,
            pos,
            order_id,
            deliveries,
            reason,
            extra={"order_id": order_id, "position": pos},  # the entry carries no event_id field
        )
        entry = {
            **fields,
            b"group": self._group.encode(),
            b"consumer": self._consumer.encode(),
            b"position": pos.encode(),
            b"deliveries": str(deliveries).encode(),
            b"error": reason.encode(),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._dead_letters, entry)  # type: ignore[arg-type]
            pipe.xack(self._stream, self._group, pos)
            pipe.hdel(self._errors, pos)
            await pipe.execute()
