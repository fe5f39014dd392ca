"""Which exceptions mean a store could not be reached or is full, as opposed to a bug or a bad
entry.

A caller retries these in place (the store comes back) or answers 503; anything else is the
caller's own failure and is handled as one.
"""

from __future__ import annotations

import psycopg
from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Redis (or any socket) could not be reached in time, or Redis is at its `maxmemory` and refuses
# writes (it comes back when memory is freed or raised: a retry cures it like a lost connection).
# On a cluster: a slot without a master for now, or a failover under way.
REDIS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OutOfMemoryError,
    ClusterDownError,
    MasterDownError,
    SlotNotCoveredError,
    TryAgainError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
)

# Redis or PostgreSQL could not be reached in time (a pool timeout is an OperationalError too;
# so are a lost connection, a deadlock and a serialisation failure, which a retry also cures).
STORES_UNAVAILABLE: tuple[type[BaseException], ...] = (
    *REDIS_UNAVAILABLE,
    psycopg.OperationalError,
)
