"""The intake rate limit: requests per minute per client at order placement, shared by every API
process through Redis (a moving window from the `limits` library). Off when the limit is 0.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool

from eventlog.keys import Keys


class IntakeLimitedError(RuntimeError):
    def __init__(self, client_id: str, retry_after_s: int) -> None:
        super().__init__(f"client {client_id} is over its order intake limit")
        self.client_id = client_id
        self.retry_after_s = retry_after_s


class IntakeLimit:
    def __init__(self, redis_url: str, pool: ConnectionPool, keys: Keys, per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter: MovingWindowRateLimiter | None = None
        if self._item is not None:
            storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=keys.intake_limits,
                connection_pool=pool,  # type: ignore[arg-type]  # the API's own pool
            )
            self._limiter = MovingWindowRateLimiter(storage)

    async def check(self, client_id: str) -> None:
        """Count one request for `client_id`; raises IntakeLimitedError when over the limit."""
        if self._limiter is None or self._item is None:
            return
        if await self._limiter.hit(self._item, client_id):
            return
        stats = await self._limiter.get_window_stats(self._item, client_id)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise IntakeLimitedError(client_id, retry_after)
