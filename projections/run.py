"""Running projectors: one consumer in group `projection:<name>` per projection, per process.

Each batch is applied in one PostgreSQL transaction and acked only after it committed (the
consumer acks when the handler returns); a batch redelivered after a crash changes nothing.
Any number of processes may run projectors against one log (README: "Ordering with two
projectors").
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from psycopg import AsyncConnection

from eventlog.codec import Recorded
from eventlog.connections import redis_client
from eventlog.consumer import Consumer
from eventlog.consumer_config import ConsumerConfig
from eventlog.keys import Keys
from eventlog.settings import Settings
from eventlog.store_errors import STORES_UNREACHABLE
from projections.projection import Projection, apply_batch
from projections.registry import group_name, select_projections

logger = logging.getLogger(__name__)

# A lost PostgreSQL connection, a deadlock or a serialisation failure: retry the batch in place.


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Projector:
    """Applies the batches its consumer hands it to one projection, over its own connection."""

    def __init__(self, projection: Projection, database_url: str) -> None:
        self.projection = projection
        self._database_url = database_url
        self._conn: AsyncConnection | None = None
        self.applied = 0

    async def handle(self, batch: Sequence[Recorded]) -> None:
        conn = await self._connection()
        applied = await apply_batch(conn, self.projection, batch)
        self.applied += applied
        logger.debug(
            "%s: applied %d of %d events up to position=%s",
            self.projection.name,
            applied,
            len(batch),
            batch[-1].position,
        )

    async def _connection(self) -> AsyncConnection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                await self._conn.close()
            self._conn = await AsyncConnection.connect(self._database_url, autocommit=True)
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def projector_config(
    settings: Settings, projection: Projection, name: str, *, batch_size: int | None = None
) -> ConsumerConfig:
    """A projector's consumer settings. Bigger batches project faster (fewer round trips and
    commits, more events of one order folded into one row write): 2,000 is a good size."""
    return ConsumerConfig(
        group=group_name(projection),
        name=name,
        batch_size=batch_size or settings.projection_batch_size,
        block_ms=settings.consumer_block_ms,
        claim_idle_ms=settings.consumer_claim_idle_ms,
        max_deliveries=settings.consumer_max_deliveries,
        health_ttl_seconds=settings.health_ttl_seconds,
        infrastructure_errors=STORES_UNREACHABLE,
    )


@asynccontextmanager
async def open_consumers(
    settings: Settings,
    redis: aioredis.Redis,
    *,
    name: str,
    projections: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> AsyncIterator[list[Consumer]]:
    """A consumer per projection, named `name` in each group; their connections close on exit."""
    keys = Keys(settings.key_prefix)
    database_url = settings.require_database_url()
    projectors = [Projector(p, database_url) for p in select_projections(projections)]
    try:
        yield [
            Consumer(
                redis,
                keys,
                projector_config(settings, p.projection, name, batch_size=batch_size),
                p.handle,
            )
            for p in projectors
        ]
    finally:
        for projector in projectors:
            await projector.close()


async def run_projectors(
    settings: Settings,
    stop: asyncio.Event,
    *,
    name: str | None = None,
    projections: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> None:
    """Project until `stop` is set. `name` is this process's consumer name in every group
    (default host-pid); `projections` selects projections by name (default all); `batch_size`
    defaults to the settings' `projection_batch_size`."""
    consumer_name = name or default_consumer_name()
    redis = redis_client(settings)
    try:
        async with open_consumers(
            settings, redis, name=consumer_name, projections=projections, batch_size=batch_size
        ) as consumers:
            logger.info(
                "projecting %s as consumer %s",
                ", ".join(c.config.group for c in consumers),
                consumer_name,
            )
            async with asyncio.TaskGroup() as group:
                for consumer in consumers:
                    group.create_task(consumer.run(stop))
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
        async with open_consumers(
            settings, redis, name=name, projections=projections, batch_size=batch_size
        ) as consumers:
            return sum([await consumer.drain() for consumer in consumers])
    finally:
        await redis.aclose()
