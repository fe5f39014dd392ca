"""Connection factories: nothing connects at import time; callers own and close what they open."""

from __future__ import annotations

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from eventlog.settings import Settings


def redis_client(settings: Settings) -> aioredis.Redis:
    """A pooled asyncio Redis client that returns bytes."""
    return aioredis.Redis.from_url(
        settings.require_redis_url(),
        decode_responses=False,
        health_check_interval=30,
        socket_keepalive=True,
        protocol=2,
    )


def postgres_pool(
    settings: Settings, *, min_size: int = 1, max_size: int = 10
) -> AsyncConnectionPool:
    """An asyncio PostgreSQL pool, not yet opened: `await pool.open()` or use `async with`."""
    return AsyncConnectionPool(
        settings.require_database_url(),
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": False},
    )
