"""Running the long-lived parts of the engine in this process, each until its stop event is set:
an execution processor, the projectors, and a drain of the projections (tests, benchmarks).

Any number of processes may run each part against one log (docs/read-models.md: "Ordering with two
projectors"); each part owns the clients it opens here and closes them on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_when_event_set,
    wait_exponential,
)

from eventlog.archive_source import ArchiveSource
from eventlog.backoff import retry_line
from eventlog.connections import redis_client
from eventlog.consumer import Consumer
from eventlog.settings import Settings
from eventlog.store_errors import REDIS_UNAVAILABLE
from oee.wiring import (
    archive_config,
    consumer_name,
    execution_processor,
    processor_archive,
    processor_redis,
    projection_connector,
    projector_config,
    replay_clients,
)

# A part's own modules are imported where it starts: `oee process` loads no projection code.
if TYPE_CHECKING:
    from processors.execution_processor import ExecutionProcessor

logger = logging.getLogger(__name__)

STARTUP_WAIT_S = 60


async def run_processor(
    settings: Settings, stop: asyncio.Event, *, name: str | None = None
) -> None:
    """Run one execution processor until `stop` is set; waits up to a minute for Redis first."""
    redis = processor_redis(settings)
    try:
        async with processor_archive(settings) as archive:
            await _run_processor(redis, settings, stop, name, archive)
    finally:
        await redis.aclose()


async def _run_processor(
    redis: aioredis.Redis,
    settings: Settings,
    stop: asyncio.Event,
    name: str | None,
    archive: ArchiveSource | None,
) -> None:
    processor = execution_processor(redis, settings, name=name, archive=archive)
    try:
        await _prepare_once_redis_takes_writes(processor, stop)
    except REDIS_UNAVAILABLE:
        if stop.is_set():
            return  # stopped while waiting
        raise
    if stop.is_set():
        return
    logger.info(
        "execution processor %s starting: max_concurrent_orders=%d max_orders_per_minute=%d",
        processor.name,
        settings.max_concurrent_orders,
        settings.max_orders_per_minute,
    )
    await processor.run(stop)
    logger.info("execution processor %s stopped", processor.name)


async def _prepare_once_redis_takes_writes(
    processor: ExecutionProcessor, stop: asyncio.Event
) -> None:
    """Seed the market and the group, waiting up to STARTUP_WAIT_S for a Redis that is
    unreachable or full, a log line per retry; returns early once `stop` is set."""
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(STARTUP_WAIT_S) | stop_when_event_set(stop),  # type: ignore[arg-type]
        wait=wait_exponential(multiplier=0.1, max=2),
        retry=retry_if_exception_type(REDIS_UNAVAILABLE),
        before_sleep=retry_line(logger, "Redis"),
        reraise=True,
    ):
        with attempt:
            if stop.is_set():
                return
            await processor.prepare()


@contextlib.asynccontextmanager
async def projector_consumers(
    settings: Settings,
    redis: aioredis.Redis,
    *,
    name: str,
    projections: Sequence[str] | None = None,
    batch_size: int | None = None,
    archive: bool = False,
) -> AsyncIterator[list[Consumer]]:
    """A consumer per projection, named `name` in each group, and with `archive` the archiver's;
    their connections close on exit."""
    from archive.archiver import EventArchiver
    from projections.projector import Projector
    from projections.registry import select_projections

    keys = settings.log_keys()
    connect = projection_connector(settings)
    projectors = [Projector(p, connect) for p in select_projections(projections)]
    archivers = [EventArchiver(connect, redis, keys)] if archive else []
    try:
        yield [
            *(
                Consumer(
                    redis,
                    keys,
                    projector_config(settings, p.projection, name, batch_size=batch_size),
                    p.handle,
                )
                for p in projectors
            ),
            *(Consumer(redis, keys, archive_config(settings, name), a.handle) for a in archivers),
        ]
    finally:
        for projector in projectors:
            await projector.close()
        for archiver in archivers:
            await archiver.close()


async def run_projectors(
    settings: Settings,
    stop: asyncio.Event,
    *,
    name: str | None = None,
    projections: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> None:
    """Project (and, unless `projections` picks some, archive and trim the log) until `stop`
    is set. `name` is
    this process's consumer name in every group (default host-pid); `projections` selects
    projections by name (default all); `batch_size` defaults to the settings'
    `projection_batch_size`."""
    from archive.trimmer import LogTrimmer

    own_name = consumer_name(name)
    redis = redis_client(settings)
    try:
        async with projector_consumers(
            settings,
            redis,
            name=own_name,
            projections=projections,
            batch_size=batch_size,
            archive=projections is None,
        ) as consumers:
            logger.info(
                "projecting %s as consumer %s",
                ", ".join(c.config.group for c in consumers),
                own_name,
            )
            async with asyncio.TaskGroup() as group:
                for consumer in consumers:
                    group.create_task(consumer.run(stop))
                if projections is None:  # the archiver runs here: so does the trim
                    keys = settings.log_keys()
                    trimmer = LogTrimmer(redis, keys, settings.log_retention_seconds)
                    group.create_task(trimmer.run(stop))
    finally:
        await redis.aclose()


async def drain_projections(
    settings: Settings,
    *,
    name: str = "drain",
    projections: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> int:
    """Project everything in the log now, then return how many entries were handled."""
    redis = redis_client(settings)
    try:
        async with projector_consumers(
            settings, redis, name=name, projections=projections, batch_size=batch_size
        ) as consumers:
            return sum([await consumer.drain() for consumer in consumers])
    finally:
        await redis.aclose()


async def drain_archive(settings: Settings, *, name: str = "drain") -> int:
    """Archive everything in the log now, then return how many entries were handled."""
    redis = redis_client(settings)
    try:
        async with projector_consumers(
            settings, redis, name=name, projections=(), archive=True
        ) as consumers:
            return sum([await consumer.drain() for consumer in consumers])
    finally:
        await redis.aclose()


async def run_replay(
    settings: Settings,
    names: list[str] | None = None,
    *,
    progress: bool = True,
    chunk: int | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Rebuild the named projections (all for None) from the log, over clients of its own."""
    from projections.replay import replay

    options: dict[str, Any] = {"progress": progress, "workers": workers}
    if chunk is not None:
        options["chunk"] = chunk
    async with replay_clients(settings) as (redis, conn, archive):
        return await replay(redis, conn, settings, names, archive=archive, **options)
