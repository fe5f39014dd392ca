"""Reading the log outside consumer groups: one order's history, or a range by position.

These reads never change group state; they serve resumes, read-your-writes and WebSocket catch-up.
Given an `archive`, they read it where Redis no longer holds what they want (trimmed entries, the
position list of an order that finished long ago), at the same positions: the answer is the same
whichever store held each entry.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from eventlog.archive_source import ArchiveSource, Entry
from eventlog.codec import Recorded, decode, position_key
from eventlog.keys import Keys


async def read_order(
    redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID, archive: ArchiveSource | None = None
) -> list[Recorded]:
    """Every event of one order, in sequence order (two round trips while Redis holds them)."""
    positions: Any = await redis.lrange(keys.order_positions(order_id), 0, -1)
    if not positions:
        # Unknown, or finished and trimmed from Redis with its position list.
        partition = keys.partition_of(order_id)
        if archive is None or await first_kept(redis, keys, partition) is None:
            return []  # nothing was ever trimmed: unknown, without asking PostgreSQL
        return [decode(*entry) for entry in await archive.order_entries(order_id)]
    stream = keys.order_stream(order_id)
    pipe = redis.pipeline(transaction=False)
    for position in positions:
        pipe.xrange(stream, min=position, max=position)
    held: list[Any] = await pipe.execute()
    if archive is not None and not all(held):  # its oldest events were trimmed
        archived = {entry[0]: entry for entry in await archive.order_entries(order_id)}
        held = [
            entries or ([archived[p]] if p in archived else [])
            for p, entries in zip(positions, held, strict=True)
        ]
    return [decode(*entries[0]) for entries in held if entries]


async def read_first(
    redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID, archive: ArchiveSource | None = None
) -> Recorded | None:
    """The order's first event (its placement); None for an unknown order."""
    return (await read_firsts(redis, keys, [order_id], archive)).get(order_id)


async def read_firsts(
    redis: aioredis.Redis,
    keys: Keys,
    order_ids: list[uuid.UUID],
    archive: ArchiveSource | None = None,
) -> dict[uuid.UUID, Recorded]:
    """The first event of each order, by order id (unknown orders left out): two pipelined round
    trips however many orders are asked for, and one archive read for those Redis no longer
    holds."""
    if not order_ids:
        return {}
    pipe = redis.pipeline(transaction=False)
    for order_id in order_ids:
        pipe.lindex(keys.order_positions(order_id), 0)
    positions: list[Any] = await pipe.execute()
    known = [(order_id, p) for order_id, p in zip(order_ids, positions, strict=True) if p]
    pipe = redis.pipeline(transaction=False)
    for order_id, position in known:
        pipe.xrange(keys.order_stream(order_id), min=position, max=position)
    found: list[Any] = await pipe.execute() if known else []
    firsts = {
        order_id: decode(*entries[0])
        for (order_id, _), entries in zip(known, found, strict=True)
        if entries
    }
    missing = [order_id for order_id in order_ids if order_id not in firsts]
    if archive is not None and missing and await _any_trimmed(redis, keys, missing):
        for order_id, entry in (await archive.first_entries(missing)).items():
            firsts[order_id] = decode(*entry)
    return firsts


async def order_sequence(redis: aioredis.Redis, keys: Keys, order_id: uuid.UUID) -> int:
    """The order's current sequence: how many events it has (0 for an unknown order, and for
    one whose position list left Redis with it, once finished and trimmed)."""
    return int(await redis.llen(keys.order_positions(order_id)))


async def read_after(
    redis: aioredis.Redis,
    keys: Keys,
    after: str,
    count: int = 1_000,
    archive: ArchiveSource | None = None,
) -> list[Recorded]:
    """Up to `count` events strictly after position `after` ("0" for the start)."""
    return [decode(*entry) for entry in await entries_after(redis, keys, after, count, archive)]


async def entries_after(
    redis: aioredis.Redis,
    keys: Keys,
    after: str | None,
    count: int,
    archive: ArchiveSource | None = None,
) -> list[Entry]:
    """Up to `count` raw entries after position `after` (None: from the start): from the
    archive below the oldest entry Redis holds (when it has been trimmed), then from Redis."""
    if archive is None:
        low = "-" if after is None else f"({after}"
        found: Any = await redis.xrange(keys.events, min=low, max="+", count=count)
        return list(found)
    held, first = await held_after(redis, keys, after, count, "+")
    if not trimmed_after(after, first):
        return held
    assert first is not None
    older = await archive.entries_between(after, first, count)
    return older if len(older) == count else older + held[: count - len(older)]


async def archived_after(
    redis: aioredis.Redis,
    keys: Keys,
    archive: ArchiveSource,
    after: str | None,
    count: int,
    part_of: tuple[int, int, str],
) -> tuple[list[Entry], str | None]:
    """Up to `count` archived entries of one partition (`part`, `parts`) after `after`, below
    the oldest entry Redis holds (returned too) and up to `end`; none once Redis holds what
    follows `after`."""
    first = await first_kept(redis, keys)
    if not trimmed_after(after, first):
        return [], first
    assert first is not None
    part, parts, end = part_of
    bound = first if end == "+" or position_key(end) >= position_key(first) else _past(end)
    return await archive.entries_between(after, bound, count, part, parts), first


async def held_after(
    redis: aioredis.Redis, keys: Keys, after: str | None, count: int, end: str
) -> tuple[list[Entry], str | None]:
    """Up to `count` entries Redis holds after `after` up to `end`, and the oldest entry it
    holds when it was trimmed: one MULTI, so a trim cannot slip between the two."""
    low = "-" if after is None else f"({after}"
    pipe = redis.pipeline(transaction=True)
    pipe.xinfo_stream(keys.events)
    pipe.xrange(keys.events, min=low, max=end, count=count)
    try:
        info, held = await pipe.execute()
    except ResponseError:  # no log yet
        return [], None
    return list(held), _first_kept(info)


def trimmed_after(after: str | None, first: str | None) -> bool:
    """Whether entries that follow `after` (None: the start) were trimmed, Redis now holding
    from `first` (None: everything ever appended)."""
    if first is None:
        return False
    return after is None or position_key(after) < position_key(first)


def _past(position: str) -> str:
    ms, seq = position_key(position)
    return f"{ms}-{seq + 1}"


def _first_kept(info: Any) -> str | None:
    if int(info["entries-added"]) <= int(info["length"]):
        return None
    if info["first-entry"] is None:  # trimmed to nothing: it holds what comes next
        last: bytes = info["last-generated-id"]
        return _past(last.decode())
    first: bytes = info["first-entry"][0]
    return first.decode()


async def _any_trimmed(redis: aioredis.Redis, keys: Keys, order_ids: list[uuid.UUID]) -> bool:
    """Whether the partition of any of these orders has been trimmed."""
    for partition in sorted({keys.partition_of(order_id) for order_id in order_ids}):
        if await first_kept(redis, keys, partition) is not None:
            return True
    return False


async def first_kept(redis: aioredis.Redis, keys: Keys, partition: int = 0) -> str | None:
    """The oldest position a partition of the log still holds, when older entries have been
    removed (trimmed); None while it holds every event ever appended (or holds none)."""
    try:
        info: Any = await redis.xinfo_stream(keys.stream(partition))
    except ResponseError:  # no log yet
        return None
    return _first_kept(info)
