"""Rebuilding projections from the event log, through the same code path as live projection.

Replay reads the log from its start with XRANGE (no group: processor groups are never rewound) into
shadow tables while the API keeps answering from the live ones. Once caught up it takes each
projection's lock exclusively (live batches wait), applies the last few events, swaps the tables in
one transaction, and moves the live group past what it covered: nothing lost, nothing applied twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from psycopg import AsyncConnection

from eventlog.archive_source import ArchiveSource
from eventlog.codec import Recorded, position_key
from eventlog.settings import Settings
from projections.appliable import Skipped
from projections.group_position import advance_group
from projections.log_extent import entries_read_after, log_size
from projections.log_reader import LogReader
from projections.progress import ProgressBar
from projections.projection import Projection, apply_batch, lock_projection
from projections.registry import group_name, select_projections
from projections.replay_partition import replay_partition
from projections.shadow_tables import (
    ShadowSchemas,
    commit_durably,
    create_shadow_tables,
    current_schema,
    drop_shadow_tables,
    skip_commit_flush,
    swap_in,
    use_schema,
)

logger = logging.getLogger(__name__)

REPLAY_CHUNK = 5_000
# Below this many entries one process replays alone: starting workers would cost more than it saves.
PARALLEL_FROM = 20_000
_SOURCE_ROOT = str(Path(__file__).resolve().parents[1])
_REPLAY_LOCK_KEY = "hashtextextended(current_schema() || ':replay', 0)"


class ReplayWorkerError(RuntimeError):
    def __init__(self, part: int, code: int | None, output: str) -> None:
        super().__init__(f"replay worker {part} exited with {code}: {output[-2000:]}")
        self.part = part


class ReplayInProgressError(RuntimeError):
    def __init__(self, schema: str) -> None:
        super().__init__(f"another replay is rebuilding the projections of schema {schema!r}")
        self.schema = schema


async def _apply_to_all(
    conn: AsyncConnection, projections: Sequence[Projection], chunk: Sequence[Recorded]
) -> None:
    for projection in projections:
        await apply_batch(conn, projection, chunk)


async def replay(
    redis: aioredis.Redis,
    conn: AsyncConnection,
    settings: Settings,
    names: list[str] | None = None,
    *,
    progress: bool = True,
    chunk: int = REPLAY_CHUNK,
    workers: int | None = None,
    archive: ArchiveSource | None = None,
) -> dict[str, Any]:
    """Rebuild the named projections (all for None) from the log and swap them in, over `redis`
    and `conn` (a connection of replay's own, in autocommit mode, opened by the caller; it holds
    the replay lock until it is closed).

    `workers` processes (default: one per CPU, at most 2, for logs of `PARALLEL_FROM` entries or
    more) each apply one partition of the orders up to the log's end as it was at the start; this
    process then catches up with what was appended meanwhile and swaps. A process that does
    nothing else while it replays runs it under `eventlog.gc_tuning.fewer_collections`."""
    projections = select_projections(names)
    tables = tuple(t for p in projections for t in p.tables)
    keys = settings.log_keys()
    started = time.monotonic()
    schemas = ShadowSchemas.beside(await current_schema(conn))
    cursor = await conn.execute(f"SELECT pg_try_advisory_lock({_REPLAY_LOCK_KEY})")
    locked = await cursor.fetchone()
    if not locked or not locked[0]:
        raise ReplayInProgressError(schemas.live)
    await create_shadow_tables(conn, schemas, tables)
    await use_schema(conn, schemas.rebuild)
    await skip_commit_flush(conn)
    total = await log_size(redis, keys)
    label = f"replay {', '.join(p.name for p in projections)}"
    bar = ProgressBar(label, total=total, enabled=progress)
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if total >= PARALLEL_FROM else 1
    try:
        reader = LogReader(redis, keys, chunk, archive=archive)
        skipped: list[Skipped] = []
        last: Any = await redis.xrevrange(keys.events, count=1)
        if last:
            end = last[0][0].decode()
            read, skipped = await _load_partitions(
                redis,
                conn,
                settings,
                schemas.rebuild,
                projections,
                workers,
                end,
                chunk,
                bar,
                archive,
            )
            reader = LogReader(redis, keys, chunk, after=end, archive=archive)
            reader.read = read
        async for batch in reader.chunks():
            await _apply_to_all(conn, projections, batch)
            bar.advance(len(batch))
        tail = await _swap(conn, schemas, projections, tables, reader)
        bar.advance(len(tail))
    except BaseException:
        await _discard(conn, schemas)
        raise
    finally:
        bar.finish()
    moved: dict[str, str] = {}
    if reader.position is not None:
        entries_read = await entries_read_after(redis, keys, reader.read)
        for projection in projections:
            moved[projection.name] = await advance_group(
                redis, keys.events, group_name(projection), reader.position, entries_read
            )
    elapsed = time.monotonic() - started
    result = {
        "projections": [p.name for p in projections],
        "events": reader.read,
        "tail": len(tail),
        "position": reader.position,
        "workers": workers,
        "seconds": round(elapsed, 3),
        "eventsPerSecond": round(reader.read / elapsed, 1) if elapsed > 0 else None,
        "groups": moved,
        # Entries left out (they do not decode, or their values cannot be kept), in log order.
        "skipped": [
            entry.as_dict()
            for entry in sorted(skipped + reader.skipped, key=lambda e: position_key(e.position))
        ],
    }
    logger.info("replay done: %s", result)
    return result


async def _load_partitions(
    redis: aioredis.Redis,
    conn: AsyncConnection,
    settings: Settings,
    schema: str,
    projections: Sequence[Projection],
    workers: int,
    end: str,
    chunk: int,
    bar: ProgressBar,
    archive: ArchiveSource | None,
) -> tuple[int, list[Skipped]]:
    """Load the log up to `end` into the shadow tables in `workers` partitions: one here, the
    others in worker processes; returns the entries read and those that could not be applied."""
    env = {
        **os.environ,
        **settings.to_environ(),  # the workers read these settings back with Settings.from_env
        "PYTHONPATH": os.pathsep.join(filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")])),
    }
    names = [p.name for p in projections]
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "oee.replay_worker",
            schema,
            str(part),
            str(workers),
            end,
            str(chunk),
            *names,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for part in range(1, workers)
    ]

    async def follow(
        part: int, child: asyncio.subprocess.Process
    ) -> tuple[tuple[int, int], list[Skipped]]:
        assert child.stdout is not None
        assert child.stderr is not None
        errors_read = asyncio.ensure_future(child.stderr.read())  # never let its pipe fill up
        read: tuple[int, int] | None = None
        skipped: list[Skipped] = []
        async for line in child.stdout:
            kind, _, value = line.decode().partition(" ")
            if kind == "progress":
                bar.advance(int(value))
            elif kind == "skipped":
                entry = orjson.loads(value)
                skipped.append(Skipped(entry["position"], entry["orderId"], entry["reason"]))
            elif kind == "done":
                held, archived = value.split()
                read = int(held), int(archived)
        errors = await errors_read
        code = await child.wait()
        if code != 0 or read is None:
            raise ReplayWorkerError(part, code, errors.decode(errors="replace"))
        return read, skipped

    here = replay_partition(  # this process takes partition 0 itself, over its own connection
        redis,
        conn,
        settings.log_keys(),
        schema,
        names,
        part=0,
        parts=workers,
        end=end,
        chunk=chunk,
        report=bar.advance,
        archive=archive,
    )
    tasks = [
        asyncio.ensure_future(here),
        *(asyncio.ensure_future(follow(i, c)) for i, c in enumerate(children, start=1)),
    ]
    try:
        results = await asyncio.gather(*tasks)
    finally:
        # One partition failed (or the replay was cancelled): stop the others too, so none goes
        # on writing into a rebuild that is about to be dropped.
        for task in tasks:
            task.cancel()
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    skipped = [entry for _, entries in results for entry in entries]
    # Every partition read all Redis held, and its own share of the archive.
    held = max(held for (held, _), _ in results)
    return held + sum(archived for (_, archived), _ in results), skipped


async def _discard(conn: AsyncConnection, schemas: ShadowSchemas) -> None:
    """Drop an unfinished rebuild; the live tables were never touched."""
    try:
        await use_schema(conn, schemas.live)
        await drop_shadow_tables(conn, schemas)
    except Exception:  # the replay's own error matters more; the next replay drops it anyway
        logger.exception("replay: could not drop the unfinished rebuild in %s", schemas.rebuild)


async def _swap(
    conn: AsyncConnection,
    schemas: ShadowSchemas,
    projections: Sequence[Projection],
    tables: tuple[str, ...],
    reader: LogReader,
) -> list[Recorded]:
    """Under the projections' exclusive locks: apply what was appended meanwhile, then swap."""
    async with conn.transaction():
        await commit_durably(conn)  # the live group moves past these events right after
        await use_schema(conn, schemas.live, local=True)
        for projection in projections:
            await lock_projection(conn, projection.name, exclusive=True)
        # No live batch can commit now: whatever the live tables hold is in the log up to here.
        tail = await reader.rest()
        await use_schema(conn, schemas.rebuild, local=True)
        for start in range(0, len(tail), REPLAY_CHUNK):
            await _apply_to_all(conn, projections, tail[start : start + REPLAY_CHUNK])
        await swap_in(conn, schemas, tables)
        logger.info(
            "replay: swapped in %s, caught up to position=%s (%d events in the final step)",
            ", ".join(tables),
            reader.position,
            len(tail),
        )
    return tail
