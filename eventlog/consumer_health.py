"""Liveness of the consumer groups, from the heartbeats their consumers refresh (one sorted set
scored by expiry: reading who is alive costs one range read whatever the keyspace holds), and
their progress (pending and lag) from the stream's group information.
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
    """Say this consumer is alive for `ttl_seconds`, with its figures (handled, in flight, …);
    heartbeats that expired are dropped on the way."""
    now = time.time()
    status = {"group": group, "consumer": consumer, "pid": os.getpid(), "at": now}
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.health(group, consumer), orjson.dumps(status | figures), ex=ttl_seconds)
        pipe.zadd(keys.heartbeats, {_member(group, consumer): now + ttl_seconds})
        pipe.zremrangebyscore(keys.heartbeats, "-inf", now)
        await pipe.execute()


async def withdraw_heartbeat(redis: aioredis.Redis, keys: Keys, group: str, consumer: str) -> None:
    """This consumer stopped: it is no longer counted as alive."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.delete(keys.health(group, consumer))
        pipe.zrem(keys.heartbeats, _member(group, consumer))
        await pipe.execute()


def _member(group: str, consumer: str) -> bytes:
    return orjson.dumps([group, consumer])


@dataclass(frozen=True, slots=True)
class GroupStatus:
    name: str
    live_consumers: list[str]
    pending: int
    lag: int | None  # entries not yet delivered to the group (None: a group with no stream yet)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "up" if self.live_consumers else "down",
            "consumers": self.live_consumers,
            "pending": self.pending,
            "lag": self.lag,
        }


async def live_consumers(redis: aioredis.Redis, keys: Keys) -> dict[str, list[str]]:
    """Group name → consumers whose heartbeat has not expired."""
    members: Any = await redis.zrangebyscore(keys.heartbeats, time.time(), "+inf")
    found: dict[str, list[str]] = {}
    for member in members:
        group, consumer = orjson.loads(member)
        found.setdefault(group, []).append(consumer)
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
        if lag is None:  # Redis cannot tell (entries deleted): count what follows the group
            last = group["last-delivered-id"]
            after = "(" + (last.decode() if isinstance(last, bytes) else str(last))
            following: Any = await redis.xrange(keys.events, min=after, max="+", count=100_000)
            lag = len(following)
        statuses.append(GroupStatus(name, sorted(live.get(name, [])), int(group["pending"]), lag))
    for name in sorted(set(live) - seen):
        statuses.append(GroupStatus(name, sorted(live[name]), 0, None))
    return sorted(statuses, key=lambda s: s.name)
