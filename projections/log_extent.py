"""How much log there is, for a replay: every entry ever appended (those trimmed to the archive
included), and the read counter a group should carry after a replay read them."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from eventlog.keys import Keys


async def entries_read_after(redis: aioredis.Redis, keys: Keys, read: int) -> int | None:
    """The group's logical read counter after a replay that read `read` entries from the start;
    unknown (None) if entries were ever deleted from the log (XDEL; trimming keeps it known)."""
    info: Any = await redis.xinfo_stream(keys.events)
    deleted = info.get("max-deleted-entry-id", b"0-0")
    return read if deleted in (b"0-0", "0-0") else None


async def log_size(redis: aioredis.Redis, keys: Keys) -> int:
    """Every entry ever appended (those trimmed to the archive too); 0 without a log."""
    try:
        info: Any = await redis.xinfo_stream(keys.events)
    except ResponseError:
        return 0
    return int(info["entries-added"])
