"""Entry point for the processors of one process: connect, seed the market, execute until stopped.

Self-contained: it owns the Redis client it creates and closes it on the way out."""

from __future__ import annotations

import asyncio
import logging

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from eventlog.connections import redis_client
from eventlog.settings import Settings
from eventlog.store_errors import REDIS_UNREACHABLE
from processors.execution import ExecutionProcessor

logger = logging.getLogger(__name__)

STARTUP_WAIT_S = 60


async def run_processors(
    settings: Settings, stop: asyncio.Event, *, name: str | None = None
) -> None:
    """Run the execution processor until `stop` is set; waits up to a minute for Redis first."""
    # One connection per order in flight, plus a few for the consumer loop and background tasks.
    redis = redis_client(settings, max_connections=settings.max_concurrent_orders + 16)
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(STARTUP_WAIT_S),
            wait=wait_exponential(multiplier=0.1, max=2),
            retry=retry_if_exception_type(REDIS_UNREACHABLE),
            reraise=True,
        ):
            with attempt:
                await redis.ping()
        processor = ExecutionProcessor(redis, settings, name=name)
        logger.info(
            "execution processor %s starting: max_concurrent_orders=%d max_orders_per_minute=%d",
            processor.name,
            settings.max_concurrent_orders,
            settings.max_orders_per_minute,
        )
        await processor.run(stop)
        logger.info("execution processor %s stopped", processor.name)
    finally:
        await redis.aclose()
