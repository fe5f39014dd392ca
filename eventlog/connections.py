"""Connection factories: nothing connects at import time; callers own and close what they open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from eventlog.cluster_client import Cluster
from eventlog.settings import Settings

POOL_WAIT_S = 30


def redis_client(settings: Settings, *, max_connections: int = 64) -> aioredis.Redis:
    """A pooled asyncio Redis client that returns bytes. When every connection is busy a caller
    waits for one (up to POOL_WAIT_S) rather than failing at once.

    With REDIS_CLUSTER_URL it is redis-py's cluster client, which answers the same commands
    (each sent to the master of its key's slot) and is used through the same interface."""
    if settings.redis_cluster_url:
        return cluster_client(settings.redis_cluster_url)
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


def cluster_client(url: str) -> aioredis.Redis:
    """The cluster client: it learns the cluster's slots from the node at `url`, follows moves
    and failovers, and opens connections to each master as they are wanted."""
    client = Cluster.from_url(
        url,
        decode_responses=False,
        health_check_interval=30,
        socket_keepalive=True,
        protocol=2,
    )
    return cast(aioredis.Redis, client)


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


class OwnConnection:
    """One PostgreSQL connection a consumer keeps for its batches: opened by `connect` (from the
    composition root) when first wanted, and again after it was lost."""

    def __init__(self, connect: Callable[[], Awaitable[AsyncConnection]]) -> None:
        self._connect = connect
        self._conn: AsyncConnection | None = None

    async def get(self) -> AsyncConnection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                await self._conn.close()
            self._conn = await self._connect()
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
