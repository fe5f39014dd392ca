"""WebSocket tickets: browsers cannot set a header on a WebSocket handshake, so a caller trades its
key (on `POST /api/stream-tickets`) for a ticket, passed as `?ticket=` when the socket opens. A
ticket is 256 random bits, kept only as its SHA-256 with the caller it stands for; it expires after
`ws_ticket_seconds` and is taken once (GETDEL), so a URL that leaks into a log is worth nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson
import redis.asyncio as aioredis

from api.api_keys import Caller, key_hash
from eventlog.keys import Keys


async def issue_ticket(
    redis: aioredis.Redis, keys: Keys, caller: Caller | None, seconds: int
) -> str:
    """A new ticket for `caller` (None: issued while keys were off, so it opens nothing once they
    are on)."""
    ticket = secrets.token_urlsafe(32)
    record = None if caller is None else {"client": caller.client, "admin": caller.admin}
    await redis.set(keys.stream_ticket(key_hash(ticket)), orjson.dumps(record), ex=seconds)
    return ticket


async def redeem_ticket(redis: aioredis.Redis, keys: Keys, ticket: str) -> Caller | None:
    """The caller a ticket stands for, taking it; None when it is unknown, used or expired."""
    raw: Any = await redis.getdel(keys.stream_ticket(key_hash(ticket)))
    if raw is None:
        return None
    record: Any = orjson.loads(raw)
    if not isinstance(record, dict):
        return None
    return Caller(str(record["client"]), bool(record["admin"]))
