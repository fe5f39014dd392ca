"""Connection factories: nothing connects at import time; callers own and close what they open."""

from __future__ import annotations

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool

from eventlog.settings import Settings

POOL_WAIT_S = 30


def redis_client(settings: Settings, *, max_connections: int = 64) -> aioredis.Redis:
    """A pooled asyncio Redis client that returns bytes. When every connection is busy a caller
    waits for one (up to POOL_WAIT_S) rather than failing at once."""
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.require_redis_url(),
        max_connections=max_connections,
        timeout=POOL_WAIT_S,
        decode_responses=False,
        health_check_interval=30,
        socket_keepalive=True,
        protocol=2,
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes its pool


def postgres_pool(
    settings: Settings, *, min_size: int = 1, max_size: int = 10, timeout: float = POOL_WAIT_S
) -> AsyncConnectionPool:
    """An asyncio PostgreSQL pool, not yet opened: `await pool.open()` or use `async with`.
    A caller waits up to `timeout` seconds for a connection, then gets PoolTimeout."""
    return AsyncConnectionPool(
        settings.require_database_url(),
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        kwargs={"autocommit": False},
    )
