"""The archive and the log as lists of (position, order id, type, data), to compare them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import redis.asyncio as aioredis

from archive.reader import ArchiveReader, lend
from eventlog.keys import Keys
from eventlog.settings import Settings


def archived(settings: Settings) -> list[tuple[str, str, str, str]]:
    with psycopg.connect(settings.require_database_url()) as conn:
        rows = conn.execute(
            "SELECT position_ms || '-' || position_seq, order_id::text, type, data"
            " FROM event_archive ORDER BY position_ms, position_seq"
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def logged_entries(redis: aioredis.Redis, keys: Keys) -> list[tuple[str, str, str, str]]:
    entries: Any = await redis.xrange(keys.events)
    return [
        (p.decode(), f[b"order_id"].decode(), f[b"type"].decode(), f[b"data"].decode())
        for p, f in entries
    ]


@contextlib.asynccontextmanager
async def archive_reader(settings: Settings) -> AsyncIterator[ArchiveReader]:
    """The archive as the engine reads it, over a connection of the test's own."""
    url = settings.require_database_url()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        yield ArchiveReader(lend(conn))
