"""The API's health, checked in the background and served from memory: `/health` answers from
the last check, so a load balancer's probes cost no store round trip and stay fast under any
backlog. A check runs every REFRESH_S, each store with CHECK_TIMEOUT_S, so a store that goes down
shows within about a second; a check older than STALE_AFTER_S (the loop stalled) is redone for
the request that finds it, one at a time.

Healthy when Redis takes a write and PostgreSQL answers; consumer groups are reported (live
consumers, pending, lag) but do not make the API unhealthy. The answer says what is wrong in
words of its own, never an exception's text; the full error goes to the log
(`api.health_reports`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool
from redis.exceptions import OutOfMemoryError

from api.health_reports import HealthReports
from api.order_views import format_time
from eventlog.cancelling import cancel_until_done
from eventlog.consumer_health import group_statuses
from eventlog.keys import Keys

REFRESH_S = 0.2
CHECK_TIMEOUT_S = 0.5
STALE_AFTER_S = 1.0
PROBE_TTL_MS = 10_000
REDIS_FULL = "Redis is at its maxmemory: writes refused"
REDIS_DOWN = "Redis did not answer"
POSTGRES_DOWN = "PostgreSQL did not answer"
CONSUMERS_UNREAD = "the consumer groups could not be read"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Health:
    body: bytes  # the answer, encoded once per check
    status_code: int
    checked_at: float  # monotonic


class HealthWatch:
    def __init__(self, redis: aioredis.Redis, pool: AsyncConnectionPool, keys: Keys) -> None:
        self._redis = redis
        self._pool = pool
        self._keys = keys
        self.reports = HealthReports()
        self._last: Health | None = None
        self._checking: asyncio.Task[Health] | None = None
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check once (the first answer is a real one), then keep checking in the background."""
        await self.current()
        self._loop = asyncio.create_task(self._refresh_forever())

    async def stop(self) -> None:
        """Stop checking; a check under way is cancelled, not left holding a connection."""
        for task in (self._loop, self._checking):
            if task is not None:
                await cancel_until_done(task)

    async def current(self) -> Health:
        """The last check, or a new one if it is stale (one check at a time, however many ask)."""
        last = self._last
        if last is not None and time.monotonic() - last.checked_at < STALE_AFTER_S:
            return last
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(self._check())
        return await asyncio.shield(self._checking)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)  # the interval between checks
            if self._checking is None or self._checking.done():
                self._checking = asyncio.create_task(self._check())
            with contextlib.suppress(Exception):  # a check reports its own failures
                await asyncio.shield(self._checking)

    async def _check(self) -> Health:
        redis, postgres = await asyncio.gather(self._check_redis(), self._check_postgres())
        checks: dict[str, Any] = {"redis": redis, "postgres": postgres}
        if redis["status"] == "up":
            checks["consumers"] = await self._check_consumers()
        healthy = redis["status"] == postgres["status"] == "up"
        body = {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": format_time(datetime.now(UTC)),
            "checks": checks,
        }
        health = Health(orjson.dumps(body), 200 if healthy else 503, time.monotonic())
        self._last = health
        return health

    async def _check_redis(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                # A write, not a PING: a Redis at its maxmemory still answers PING but takes no
                # order.
                await self._redis.set(self._keys.health_probe, b"1", px=PROBE_TTL_MS)
        except OutOfMemoryError as exc:
            self.reports.failed("redis", "full", exc)
            return {"status": "full", "error": REDIS_FULL}
        except Exception as exc:  # any failure to answer is what this check reports
            self.reports.failed("redis", "down", exc)
            return {"status": "down", "error": REDIS_DOWN}
        self.reports.up("redis")
        return {"status": "up"}

    async def _check_postgres(self) -> dict[str, Any]:
        async def select_one() -> None:
            async with self._pool.connection() as conn:
                await conn.execute("SELECT 1")

        answered, _ = await self._answers("postgres", "down", select_one())
        return {"status": "up"} if answered else {"status": "down", "error": POSTGRES_DOWN}

    async def _check_consumers(self) -> dict[str, Any]:
        read = group_statuses(self._redis, self._keys)
        answered, groups = await self._answers("consumers", "unread", read)
        if not answered or groups is None:  # reported, not fatal: see the module docstring
            return {"error": CONSUMERS_UNREAD}
        return {g.name: g.as_json() for g in groups}

    async def _answers(self, check: str, failure: str, work: Awaitable[T]) -> tuple[bool, T | None]:
        """Whether `work` was done within CHECK_TIMEOUT_S, and what it gave; either way the
        check's state is reported."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                result = await work
        except Exception as exc:  # any failure to answer is what this check reports
            self.reports.failed(check, failure, exc)
            return False, None
        self.reports.up(check)
        return True, result
