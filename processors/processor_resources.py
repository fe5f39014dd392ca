"""What every order execution of one processor shares: its clients, settings, market and venues,
and the counters and gauges it publishes (ExecutionStats, in Redis under keys.execution_stats).
Built by the composition root (`oee/wiring.py`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from eventlog.append import EventAppender
from eventlog.archive_source import ArchiveSource
from eventlog.keys import Keys
from eventlog.settings import Settings
from processors.market import Market
from processors.rate_limit import ExecutionRateLimiter
from processors.route_choice import Router
from processors.venues import Venues


@dataclass(slots=True)
class ExecutionStats:
    """Counters and gauges of one processor; published to Redis under keys.execution_stats."""

    in_flight: int = 0
    max_in_flight: int = 0
    started: int = 0
    confirmed: int = 0
    failed: int = 0
    attempts_failed: int = 0
    resumed: int = 0
    reopened: int = 0  # limit orders the market left behind between trigger and fill
    throttled_seconds: float = 0.0
    since: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ExecutionContext:
    redis: aioredis.Redis
    keys: Keys
    settings: Settings
    appender: EventAppender
    market: Market
    venues: Venues
    router: Router
    limiter: ExecutionRateLimiter
    stats: ExecutionStats
    archive: ArchiveSource | None = None  # where an order's oldest events are once trimmed
