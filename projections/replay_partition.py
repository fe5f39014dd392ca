"""One partition of a replay: loads the events of one share of the orders, up to a position, into
the shadow tables with each projection's bulk load (live projection's fold and rows, written with
COPY). `projections.replay` runs partition 0 itself and each other one in a worker process
(`python -m oee.replay_worker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from psycopg import AsyncConnection

from eventlog.archive_source import ArchiveSource
from eventlog.keys import Keys
from projections.appliable import Skipped
from projections.log_reader import LogReader
from projections.registry import select_projections
from projections.shadow_tables import skip_commit_flush, use_schema


async def replay_partition(
    redis: aioredis.Redis,
    conn: AsyncConnection,
    keys: Keys,
    schema: str,
    names: Sequence[str],
    *,
    part: int,
    parts: int,
    end: str,
    chunk: int,
    report: Callable[[int], None],
    archive: ArchiveSource | None = None,
) -> tuple[tuple[int, int], list[Skipped]]:
    """Load this partition's events up to `end` into `schema` over `conn`; returns the entries
    read from Redis (of every partition) and from the archive (of this partition only), and this
    partition's entries that could not be applied."""
    projections = select_projections(names)
    await use_schema(conn, schema)
    await skip_commit_flush(conn)
    reader = LogReader(redis, keys, chunk, end=end, part=part, parts=parts, archive=archive)
    loads = [projection.bulk_load() for projection in projections]
    async for batch in reader.chunks():
        if batch:
            for load in loads:
                await load.add(conn, batch)
        report(len(batch))
    for load in loads:
        await load.finish(conn)
    return (reader.read - reader.archived_read, reader.archived_read), reader.skipped
