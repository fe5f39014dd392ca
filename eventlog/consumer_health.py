"""Liveness of the consumer groups, from the health keys their consumers refresh with a TTL,
and their progress (pending and lag) from the stream's group information.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from eventlog.keys import Keys


async def publish_heartbeat(
    redis: aioredis.Redis,
    keys: Keys,
    group: str,
    consumer: str,
    ttl_seconds: int,
    **figures: int,
) -> None:
    """Say this consumer is alive for `ttl_seconds`, with its figures (handled, in flight, …)."""
    status = {"group": group, "consumer": consumer, "pid": os.getpid(), "at": time.time()}
    await redis.set(keys.health(group, consumer), orjson.dumps(status | figures), ex=ttl_seconds)


@dataclass(frozen=True, slots=True)
class GroupStatus:
    name: str
    live_consumers: list[str]
    pending: int
    lag: int | None  # entries not yet delivered to the group; None when Redis cannot tell

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "up" if self.live_consumers else "down",
            "consumers": self.live_consumers,
            "pending": self.pending,
            "lag": self.lag,
        }


async def live_consumers(redis: aioredis.Redis, keys: Keys) -> dict[str, list[str]]:
    """Group name → consumers whose health key has not expired."""
    found: dict[str, list[str]] = {}
    async for key in redis.scan_iter(match=keys.health_pattern(), count=500):
        raw: Any = await redis.get(key)
        if raw is None:
            continue
        status = orjson.loads(raw)
        found.setdefault(status["group"], []).append(status["consumer"])
    return found


async def group_statuses(redis: aioredis.Redis, keys: Keys) -> list[GroupStatus]:
    live = await live_consumers(redis, keys)
    try:
        groups: Any = await redis.xinfo_groups(keys.events)
    except ResponseError:  # no stream yet
        groups = []
    statuses = []
    seen = set()
    for group in groups:
        name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
        seen.add(name)
        lag = group.get("lag")
        statuses.append(GroupStatus(name, sorted(live.get(name, [])), int(group["pending"]), lag))
    for name in sorted(set(live) - seen):
        statuses.append(GroupStatus(name, sorted(live[name]), 0, None))
    return sorted(statuses, key=lambda s: s.name)
