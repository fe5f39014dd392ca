"""Reading a whole test log, in position order, page by page."""

from __future__ import annotations

import redis.asyncio as aioredis

from eventlog.codec import Recorded
from eventlog.keys import Keys
from eventlog.reading import read_after


async def read_log(redis: aioredis.Redis, keys: Keys) -> list[Recorded]:
    found: list[Recorded] = []
    after = "0"
    while batch := await read_after(redis, keys, after, count=5_000):
        found += batch
        after = batch[-1].position
    return found
