"""Reading the log outside consumer groups: one order's history, or a range by position.

These reads never change group state; they serve resumes, read-your-writes and WebSocket catch-up.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from eventlog.codec import Recorded, decode
from eventlog.keys import Keys


async def read_order(redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID) -> list[Recorded]:
    """Every event of one order, in sequence order (two round trips)."""
    positions: Any = await redis.lrange(keys.order_positions(order_id), 0, -1)
    if not positions:
        return []
    pipe = redis.pipeline(transaction=False)
    for position in positions:
        pipe.xrange(keys.events, min=position, max=position)
    found: list[Any] = await pipe.execute()
    return [decode(*entries[0]) for entries in found if entries]


async def read_first(redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID) -> Recorded | None:
    """The order's first event (its placement); None for an unknown order."""
    return (await read_firsts(redis, keys, [order_id])).get(order_id)


async def read_firsts(
    redis: aioredis.Redis, keys: Keys, order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Recorded]:
    """The first event of each order, by order id (unknown orders left out): two pipelined round
    trips however many orders are asked for."""
    if not order_ids:
        return {}
    pipe = redis.pipeline(transaction=False)
    for order_id in order_ids:
        pipe.lindex(keys.order_positions(order_id), 0)
    positions: list[Any] = await pipe.execute()
    known = [(order_id, p) for order_id, p in zip(order_ids, positions, strict=True) if p]
    pipe = redis.pipeline(transaction=False)
    for _, position in known:
        pipe.xrange(keys.events, min=position, max=position)
    found: list[Any] = await pipe.execute() if known else []
    return {
        order_id: decode(*entries[0])
        for (order_id, _), entries in zip(known, found, strict=True)
        if entries
    }


async def order_sequence(redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID) -> int:
    """The order's current sequence: how many events it has (0 for an unknown order)."""
    return int(await redis.llen(keys.order_positions(order_id)))


async def read_after(
    redis: aioredis.Redis, keys: Keys, after: str, count: int = 1_000
) -> list[Recorded]:
    """Up to `count` events strictly after position `after` ("0" for the start)."""
    entries: Any = await redis.xrange(keys.events, min=f"({after}", max="+", count=count)
    return [decode(position, fields) for position, fields in entries]


async def first_kept(redis: aioredis.Redis, keys: Keys) -> str | None:
    """The oldest position the log still holds, when older entries have been removed (trimmed);
    None while it holds every event ever appended (or holds none)."""
    try:
        info: Any = await redis.xinfo_stream(keys.events)
    except ResponseError:  # no log yet
        return None
    if int(info["entries-added"]) <= int(info["length"]) or info["first-entry"] is None:
        return None
    first: bytes = info["first-entry"][0]
    return first.decode()
