"""Many calls of one Lua script in one go, each answered on its own: one pipeline on a single
Redis; on a cluster, whose client refuses scripts in pipelines, one call after another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

ScriptCall = tuple[list[str], list[Any]]  # keys, args


async def call_each(
    redis: aioredis.Redis, script: AsyncScript, calls: Sequence[ScriptCall]
) -> list[Any]:
    """Each call's reply, in order; a call the script fails on gets its ResponseError in its
    place. A lost connection raises, as any command's would."""
    if isinstance(redis, RedisCluster):
        replies: list[Any] = []
        for keys, args in calls:
            try:
                replies.append(await script(keys=keys, args=args))
            except ResponseError as exc:
                replies.append(exc)
        return replies
    pipe = redis.pipeline(transaction=False)
    for keys, args in calls:
        await script(keys=keys, args=args, client=pipe)
    found: list[Any] = await pipe.execute(raise_on_error=False)
    return found
