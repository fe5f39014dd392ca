"""The execution rate limit: one token bucket in Redis (keys.execution_bucket) for all processors.

MAX_ORDERS_PER_MINUTE is a minute's budget: the bucket holds that many starts (a burst of up to a
minute's worth when it is full) and refills at MAX_ORDERS_PER_MINUTE/60 per second, so no T-second
window starts more than budget + rate*T orders. 0 lifts it. Its hash counts `granted` and
`throttled`."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from eventlog.keys import Keys

# KEYS[1] bucket. ARGV[1] refill per ms, ARGV[2] capacity. Returns 0 when a token was taken,
# else the ms until one will be there.
_TAKE_LUA = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now_ms
tokens = math.min(capacity, tokens + math.max(0, now_ms - at) * rate)
if tokens >= 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', tostring(now_ms))
  redis.call('HINCRBY', KEYS[1], 'granted', 1)
  return 0
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now_ms))
redis.call('HINCRBY', KEYS[1], 'throttled', 1)
return math.ceil((1 - tokens) / rate)
"""


class ExecutionRateLimiter:
    def __init__(self, redis: aioredis.Redis, keys: Keys, per_minute: int) -> None:
        self._key = keys.execution_bucket
        self._per_minute = per_minute
        self._script = redis.register_script(_TAKE_LUA)

    @property
    def enabled(self) -> bool:
        return self._per_minute > 0

    @property
    def burst(self) -> int:
        """Starts a full bucket allows at once: the minute's whole budget."""
        return max(1, self._per_minute)

    async def acquire(self) -> float:
        """Wait for a token; returns the seconds spent waiting."""
        if not self.enabled:
            return 0.0
        waited = 0.0
        while True:
            wait_ms = int(
                await self._script(keys=[self._key], args=[self._refill_per_ms, self.burst])
            )
            if wait_ms <= 0:
                return waited
            await asyncio.sleep(
                wait_ms / 1000
            )  # the bucket refills with time: waiting is the point
            waited += wait_ms / 1000

    @property
    def _refill_per_ms(self) -> str:
        return repr(self._per_minute / 60_000)
