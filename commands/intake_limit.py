"""The intake rate limit: requests per minute per client at order placement, shared by every API
process through Redis (a moving window from the `limits` library). Off when the limit is 0.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisClusterStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio.cluster import RedisCluster

from eventlog.cluster_client import outage_as_connection_error
from eventlog.keys import Keys
from eventlog.store_settings import StoreSettings


class IntakeLimitedError(RuntimeError):
    def __init__(self, client_id: str, retry_after_s: int) -> None:
        super().__init__(f"client {client_id} is over its order intake limit")
        self.client_id = client_id
        self.retry_after_s = retry_after_s


class IntakeLimit:
    def __init__(
        self, settings: StoreSettings, redis: aioredis.Redis, keys: Keys, per_minute: int
    ) -> None:
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter: MovingWindowRateLimiter | None = None
        self._storage: Storage | None = None
        if self._item is not None:
            self._storage = _storage(settings, redis, keys)
            self._limiter = MovingWindowRateLimiter(self._storage)

    async def close(self) -> None:
        """Close the connections of the limiter's own cluster client (on one Redis it shares
        the API's, which the API closes)."""
        if isinstance(self._storage, RedisClusterStorage):
            bridge = self._storage.bridge
            assert isinstance(bridge, RedispyBridge)  # implementation="redispy"
            client = bridge.get_connection()
            assert isinstance(client, RedisCluster)
            await client.aclose()

    async def check(self, client_id: str) -> None:
        """Count one request for `client_id`; raises IntakeLimitedError when over the limit."""
        if self._limiter is None or self._item is None:
            return
        with outage_as_connection_error():
            if await self._limiter.hit(self._item, client_id):
                return
            stats = await self._limiter.get_window_stats(self._item, client_id)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise IntakeLimitedError(client_id, retry_after)


def _storage(settings: StoreSettings, redis: aioredis.Redis, keys: Keys) -> Storage:
    """The limiter's windows in the log's Redis: over the API's own connections on one server;
    on a cluster, through the library's cluster client (each client's window is one key)."""
    if settings.redis_cluster_url:
        node = urlsplit(settings.redis_cluster_url)
        return RedisClusterStorage(
            f"async+redis+cluster://{node.netloc}",
            implementation="redispy",
            key_prefix=keys.intake_limits,
        )
    return RedisStorage(
        "async+" + settings.require_redis_url(),
        implementation="redispy",
        key_prefix=keys.intake_limits,
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # the API's own pool
    )
