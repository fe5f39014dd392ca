"""The composition root: the one place that turns Settings into clients and into each part's
configuration (consumer names and consumer configs included) and hands the parts what they need.
No product module outside `oee/` builds a client or a ConsumerConfig from Settings.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from psycopg import AsyncConnection

from eventlog.append import EventAppender
from eventlog.archive_source import ArchiveSource
from eventlog.connections import postgres_pool, redis_client
from eventlog.consumer_config import ConsumerConfig
from eventlog.keys import EXECUTION_GROUP
from eventlog.settings import Settings
from eventlog.store_errors import REDIS_UNAVAILABLE, STORES_UNAVAILABLE

# Each part's own modules are imported where that part is wired, so a process loads only the part
# it runs (a processor no Starlette, an API process no simulated market).
if TYPE_CHECKING:
    from starlette.applications import Starlette

    from api.resources import Resources
    from processors.execution_processor import ExecutionProcessor
    from projections.projection import Projection

# Connections an API process keeps to PostgreSQL.
API_POOL_MIN, API_POOL_MAX = 2, 20


def consumer_name(given: str | None = None) -> str:
    """This process's name in every consumer group: `given`, or host and pid."""
    return given or f"{socket.gethostname()}-{os.getpid()}"


def named_on_this_host(consumer: str) -> bool:
    """Whether a consumer's default name says it runs on this host (this container)."""
    return consumer.startswith(f"{socket.gethostname()}-")


def consumer_config(
    settings: Settings,
    *,
    group: str,
    name: str,
    batch_size: int,
    parallel: int = 1,
    types: frozenset[str] | None = None,
    infrastructure_errors: tuple[type[BaseException], ...] = REDIS_UNAVAILABLE,
    linger_ms: int = 0,
) -> ConsumerConfig:
    return ConsumerConfig(
        group=group,
        name=name,
        batch_size=batch_size,
        block_ms=settings.consumer_block_ms,
        claim_idle_ms=settings.consumer_claim_idle_ms,
        max_deliveries=settings.consumer_max_deliveries,
        health_ttl_seconds=settings.health_ttl_seconds,
        parallel=parallel,
        types=types,
        infrastructure_errors=infrastructure_errors,
        linger_ms=linger_ms,
    )


# -- the API -------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def api_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Everything one API process holds open, opened here and closed on the way out."""
    from api.auth import KeyRing
    from api.finished_views import FinishedViews
    from api.health_watch import HealthWatch
    from api.live_orders import LiveOrders
    from api.order_lookup import OrderLookup
    from api.order_views import order_answer
    from api.relay import LogRelay
    from api.resources import Resources
    from api.stream_admission import StreamAdmission
    from archive.reader import ArchiveReader
    from commands.order_intake import OrderIntake

    redis = redis_client(settings)
    pool = postgres_pool(
        settings,
        min_size=API_POOL_MIN,
        max_size=API_POOL_MAX,
        timeout=settings.api_store_timeout_seconds,
    )
    await pool.open(wait=False)
    keys = settings.log_keys()
    archive = ArchiveReader(pool.connection)
    relay = LogRelay(redis, keys, settings, archive)
    finished = FinishedViews()
    live = LiveOrders(finished, order_answer, lambda: relay.current)
    relay.listen(live.learn)
    intake = OrderIntake(redis, EventAppender(redis, keys), keys, settings, archive)
    health = HealthWatch(redis, pool, keys)
    try:
        await relay.start()
        streams = StreamAdmission(settings.ws_max_streams, settings.ws_max_streams_per_client)
        key_ring = KeyRing(redis, keys, settings)
        await health.start()
        lookup = OrderLookup(pool)
        yield Resources(
            settings,
            keys,
            redis,
            pool,
            intake,
            lookup,
            relay,
            streams,
            key_ring,
            health,
            finished,
            live,
            archive,
        )
    finally:
        await health.stop()
        await relay.stop()
        await intake.limit.close()
        await pool.close()
        await redis.aclose()


def api_app(settings: Settings) -> Starlette:
    from api.app import create_app

    return create_app(lambda: api_resources(settings))


# -- execution -----------------------------------------------------------------------------------


def processor_redis(settings: Settings) -> aioredis.Redis:
    # One connection per order in flight, plus a few for the consumer loop and background tasks.
    return redis_client(settings, max_connections=settings.max_concurrent_orders + 16)


def execution_processor(
    redis: aioredis.Redis,
    settings: Settings,
    *,
    name: str | None = None,
    archive: ArchiveSource | None = None,
) -> ExecutionProcessor:
    from processors.execution_processor import ExecutionProcessor
    from processors.market import Market
    from processors.processor_resources import ExecutionContext, ExecutionStats
    from processors.rate_limit import ExecutionRateLimiter
    from processors.route_choice import Router
    from processors.venues import Venues

    keys = settings.log_keys()
    market = Market(redis, keys, settings)
    venues = Venues(market, settings)
    context = ExecutionContext(
        redis=redis,
        keys=keys,
        settings=settings,
        appender=EventAppender(redis, keys),
        market=market,
        venues=venues,
        router=Router(venues),
        limiter=ExecutionRateLimiter(redis, keys, settings.max_orders_per_minute),
        stats=ExecutionStats(),
        archive=archive,
    )
    config = consumer_config(
        settings,
        group=EXECUTION_GROUP,
        name=consumer_name(name),
        batch_size=settings.consumer_batch_size,
        parallel=settings.max_concurrent_orders,
        types=frozenset({"OrderPlaced", "OrderTriggered", "OrderCancelled", "PoolLaunched"}),
        # An order's reload may read the archive: PostgreSQL away retries it in place too.
        infrastructure_errors=STORES_UNAVAILABLE,
    )
    return ExecutionProcessor(context, config)


@contextlib.asynccontextmanager
async def processor_archive(settings: Settings) -> AsyncIterator[ArchiveSource | None]:
    """The archive, for a processor's reloads of orders whose oldest events were trimmed from
    Redis: over a pool that connects only when one is wanted. None without DATABASE_URL (then
    nothing can have been trimmed: the archiver, which trimming waits for, needs PostgreSQL)."""
    from archive.reader import ArchiveReader

    if not settings.database_url:
        yield None
        return
    pool = postgres_pool(settings, min_size=0, max_size=2)
    await pool.open(wait=False)
    try:
        yield ArchiveReader(pool.connection)
    finally:
        await pool.close()


# -- projection ----------------------------------------------------------------------------------

# How long a projector and the archiver let a steady flow gather after a round that was not a
# whole batch (`ConsumerConfig.linger_ms`). Each batch is a PostgreSQL transaction with a fixed
# cost, so without it, at a few hundred orders/s, PostgreSQL spent about as much CPU as at
# saturation: many batches of a few events. The archive is read by nobody while Redis holds the
# events, so it waits longer; a projected row is read only when the API's live orders cannot
# answer (an order placed before the API started, lists, metrics).
PROJECTOR_LINGER_MS = 20
ARCHIVER_LINGER_MS = 200


def projector_config(
    settings: Settings, projection: Projection, name: str, *, batch_size: int | None = None
) -> ConsumerConfig:
    """A projector's consumer. Bigger batches project faster (fewer round trips and commits,
    more events of one order folded into one row write): 2,000 is a good size. A lost
    PostgreSQL connection, a deadlock or a serialisation failure retries the batch in place."""
    from projections.registry import group_name

    return consumer_config(
        settings,
        group=group_name(projection),
        name=name,
        batch_size=batch_size or settings.projection_batch_size,
        infrastructure_errors=STORES_UNAVAILABLE,
        linger_ms=PROJECTOR_LINGER_MS,
    )


def archive_config(settings: Settings, name: str) -> ConsumerConfig:
    """The archiver's consumer: group `archive`, in batches of `archive_batch_size`, retrying a
    batch in place while PostgreSQL is away."""
    from archive.archiver import ARCHIVE_GROUP

    return consumer_config(
        settings,
        group=ARCHIVE_GROUP,
        name=name,
        batch_size=settings.archive_batch_size,
        infrastructure_errors=STORES_UNAVAILABLE,
        linger_ms=ARCHIVER_LINGER_MS,
    )


def projection_connector(settings: Settings) -> Callable[[], Awaitable[AsyncConnection]]:
    """How a projector opens its PostgreSQL connection (autocommit: each batch is one explicit
    transaction)."""
    database_url = settings.require_database_url()

    async def connect() -> AsyncConnection:
        return await AsyncConnection.connect(database_url, autocommit=True)

    return connect


# -- replay --------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def replay_clients(
    settings: Settings,
) -> AsyncIterator[tuple[aioredis.Redis, AsyncConnection, ArchiveSource]]:
    """A Redis client and a PostgreSQL connection of replay's own (autocommit: replay commits
    each statement itself), and the archive over a second connection (replay's first one moves
    to the rebuild's schema), closed on the way out."""
    from archive.reader import ArchiveReader, lend

    database_url = settings.require_database_url()
    async with contextlib.AsyncExitStack() as stack:
        redis = redis_client(settings)
        stack.push_async_callback(redis.aclose)
        conn = await AsyncConnection.connect(database_url, autocommit=True)
        stack.push_async_callback(conn.close)
        archived = await AsyncConnection.connect(database_url, autocommit=True)
        stack.push_async_callback(archived.close)
        yield redis, conn, ArchiveReader(lend(archived))
