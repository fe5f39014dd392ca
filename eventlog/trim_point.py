"""Where the log may be trimmed: the lowest position that some reader still needs. An entry below
it has been delivered to and acked by every consumer group (the archive's group acks only after
its batch is committed to PostgreSQL, so the archive holds it), and is older than the retention.
This module only computes the point; `archive.trimmer` trims at it.

A group needs its lowest pending entry, or, with none pending, everything after the last entry
delivered to it. Without an archive group nothing may be trimmed: the archive must hold the
history first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from eventlog.codec import PositionKey, position_key
from eventlog.keys import Keys

ARCHIVE_GROUP = "archive"


@dataclass(frozen=True, slots=True)
class TrimPoint:
    position: str  # entries below it may go (XTRIM MINID position); "0-0": none may
    held_by: str  # what holds it there: a group's name, "retention" or "no archive"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _after(position: str) -> PositionKey:
    ms, seq = position_key(position)
    return ms, seq + 1


async def _groups(redis: aioredis.Redis, keys: Keys) -> list[Any]:
    """The log's consumer groups (XINFO GROUPS), none before the log exists."""
    try:
        groups: Any = await redis.xinfo_groups(keys.events)
    except ResponseError:  # no stream yet
        return []
    return list(groups)


def _archives(groups: list[Any]) -> bool:
    return any(_text(g["name"]) == ARCHIVE_GROUP for g in groups)


async def has_archive(redis: aioredis.Redis, keys: Keys) -> bool:
    """Whether the log has an archive group: then whatever its trimming removed is archived."""
    return _archives(await _groups(redis, keys))


async def trim_point(redis: aioredis.Redis, keys: Keys, retention_s: float) -> TrimPoint:
    groups = await _groups(redis, keys)
    if not _archives(groups):
        return TrimPoint("0-0", "no archive")
    seconds, micros = await redis.time()
    bounds: list[tuple[PositionKey, str]] = [
        ((int(seconds) * 1000 + int(micros) // 1000 - int(retention_s * 1000), 0), "retention")
    ]
    for group in groups:
        name = _text(group["name"])
        bound = _after(_text(group["last-delivered-id"]))
        if int(group["pending"]):
            summary: Any = await redis.xpending(keys.events, name)
            if summary["min"] is not None:  # (acked meanwhile: then none is pending)
                bound = min(bound, position_key(_text(summary["min"])))
        bounds.append((bound, name))
    (ms, seq), held_by = min(bounds)
    return TrimPoint(f"{max(ms, 0)}-{seq}", held_by)
