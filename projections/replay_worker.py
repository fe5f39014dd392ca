"""One partition of a replay: loads the events of one share of the orders, up to a position, into
the shadow tables with each projection's bulk load (live projection's fold and rows, written with
COPY). `projections.replay` runs one partition itself and the others with this module:

    python -m projections.replay_worker <schema> <part> <parts> <end> <chunk> <projection>...

Prints `progress <n>` after every batch and `done <entries read>` at the end.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence

from psycopg import AsyncConnection

from eventlog.connections import redis_client
from eventlog.gc_tuning import fewer_collections
from eventlog.keys import Keys
from eventlog.settings import Settings
from projections.log_reader import LogReader
from projections.registry import select_projections
from projections.shadow_tables import skip_commit_flush, use_schema


async def replay_partition(
    settings: Settings,
    schema: str,
    names: Sequence[str],
    *,
    part: int,
    parts: int,
    end: str,
    chunk: int,
    report: Callable[[int], None],
) -> int:
    """Load this partition's events up to `end` into `schema`; returns entries read."""
    projections = select_projections(names)
    redis = redis_client(settings)
    conn = await AsyncConnection.connect(settings.require_database_url(), autocommit=True)
    try:
        await use_schema(conn, schema)
        await skip_commit_flush(conn)
        reader = LogReader(redis, Keys(settings.key_prefix), chunk, end=end, part=part, parts=parts)
        loads = [projection.bulk_load() for projection in projections]
        async for batch in reader.chunks():
            if batch:
                for load in loads:
                    await load.add(conn, batch)
            report(len(batch))
        for load in loads:
            await load.finish(conn)
        return reader.read
    finally:
        await conn.close()
        await redis.aclose()


def main() -> None:
    schema, part, parts, end, chunk, *names = sys.argv[1:]

    def report(count: int) -> None:
        print(f"progress {count}", flush=True)

    with fewer_collections():
        read = asyncio.run(
            replay_partition(
                Settings.from_env(),
                schema,
                names,
                part=int(part),
                parts=int(parts),
                end=end,
                chunk=int(chunk),
                report=report,
            )
        )
    print(f"done {read}", flush=True)


if __name__ == "__main__":
    main()
