"""Trimming the log: every `interval` seconds, `XTRIM MINID` at the trim point
(`eventlog.trim_point`: below it every group has acked, the archive holds it, and it is older
than the retention), then what Redis keeps per order for orders that finished before that
point is deleted: the position list and the submission record (no swap of theirs is sent
again). A group that lags holds the point back; nothing it has not read is ever removed. Reads
that want what was trimmed find it in the archive (`eventlog.reading`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from eventlog.codec import position_score
from eventlog.keys import Keys
from eventlog.store_errors import REDIS_UNAVAILABLE
from eventlog.trim_point import TrimPoint, trim_point

logger = logging.getLogger(__name__)

TRIM_INTERVAL_S = 1.0
FORGET_PAGE = 1_000


@dataclass(frozen=True, slots=True)
class Trimmed:
    point: TrimPoint
    entries: int  # entries removed from the log
    orders: int  # finished orders' position lists removed


class LogTrimmer:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        retention_s: float,
        interval_s: float = TRIM_INTERVAL_S,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._retention_s = retention_s
        self._interval_s = interval_s

    async def trim(self) -> Trimmed:
        """Trim once, at the trim point as it is now."""
        point = await trim_point(self._redis, self._keys, self._retention_s)
        if point.position == "0-0":
            return Trimmed(point, 0, 0)
        removed = int(
            await self._redis.xtrim(self._keys.events, minid=point.position, approximate=False)
        )
        return Trimmed(point, removed, await self._forget_finished(point.position))

    async def _forget_finished(self, below: str) -> int:
        """Delete the position lists and submission records of orders whose last event lies
        below `below` (every event of theirs is trimmed and archived, and every group is done
        with them); their reads go to the archive from now on."""
        score = position_score(below)
        forgotten = 0
        while True:
            ids: Any = await self._redis.zrangebyscore(
                self._keys.finished_orders, "-inf", f"({score!r}", start=0, num=FORGET_PAGE
            )
            if not ids:
                return forgotten
            pipe = self._redis.pipeline(transaction=False)
            for order_id in (i.decode() for i in ids):
                pipe.delete(self._keys.order_positions(order_id), self._keys.submission(order_id))
            pipe.zrem(self._keys.finished_orders, *ids)
            await pipe.execute()
            forgotten += len(ids)

    async def run(self, stop: asyncio.Event) -> None:
        """Trim every `interval` seconds until `stop` is set; a Redis away skips a round."""
        while not stop.is_set():
            try:
                done = await self.trim()
            except REDIS_UNAVAILABLE as exc:
                logger.warning("log trim skipped: Redis unavailable (%s)", exc)
            else:
                if done.entries or done.orders:
                    logger.debug(
                        "trimmed %d entries and %d finished orders below %s (held by %s)",
                        done.entries,
                        done.orders,
                        done.point.position,
                        done.point.held_by,
                    )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)
