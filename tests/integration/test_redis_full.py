"""Redis at its maxmemory: placements are 503 with Retry-After and the order's id rule, /health is
503 naming the cause, a consumer retries in place instead of dying, and once memory is back the
order the client retries is accepted and nothing was lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from eventlog.codec import Recorded
from eventlog.consumer import Consumer
from eventlog.consumer_config import ConsumerConfig
from eventlog.reading import read_after
from schema.migrate import migrate
from tests.support.in_process_api import in_process_api
from tests.support.polling import eventually
from tests.support.settings import MakeSettings
from tests.support.small_redis import make_full, make_room, small_redis

ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}


async def test_a_full_redis_is_503_and_unhealthy_and_a_consumer_survives_until_it_is_back(
    make_settings: MakeSettings,
) -> None:
    with small_redis() as url:
        settings = make_settings(redis_url=url)
        migrate(settings.require_database_url())
        keys = settings.log_keys()
        redis = aioredis.Redis.from_url(url)
        handled: list[str] = []

        async def handler(batch: Sequence[Recorded]) -> None:
            await redis.set(f"{keys.prefix}:effect:{batch[0].position}", b"1")  # a write
            handled.extend(r.position for r in batch)

        config = ConsumerConfig(
            group="g", name="c", block_ms=20, failure_backoff_s=0.01, health_ttl_seconds=1
        )
        consumer = Consumer(redis, keys, config, handler)
        stop = asyncio.Event()
        async with in_process_api(settings) as api:
            accepted = await api.post("/api/orders/execute", json=ORDER)
            assert accepted.status_code == 202
            running = asyncio.create_task(consumer.run(stop))
            await eventually(lambda: len(handled) == 1, what="the first order to be handled")

            make_full(url)
            refused = await api.post(
                "/api/orders/execute", json=ORDER, headers={"Idempotency-Key": "full-1"}
            )
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"

            async def unhealthy() -> dict[str, Any]:
                health = await api.get("/health")
                return health.json() if health.status_code == 503 else {}

            found = await eventually(unhealthy, within=2, what="/health to say Redis is full")
            assert found["checks"]["redis"]["status"] == "full"
            await eventually(lambda: consumer.stats.store_retries >= 2, what="refused reads")
            assert not running.done()  # refused, and retried in place: it did not die of it

            make_room(url)
            retried = await api.post(
                "/api/orders/execute", json=ORDER, headers={"Idempotency-Key": "full-1"}
            )
            assert retried.status_code == 202

            async def healthy() -> bool:
                return (await api.get("/health")).status_code == 200

            await eventually(healthy, within=2, what="/health healthy again")
            await eventually(lambda: len(handled) == 2, what="the retried order to be handled")
            stop.set()
            await running
        placed = [r for r in await read_after(redis, keys, "0") if r.event.type == "OrderPlaced"]
        assert [str(r.event.order_id) for r in placed] == [
            accepted.json()["orderId"],
            retried.json()["orderId"],
        ]
        await redis.aclose()
