"""Fixtures: real servers, and per-test isolation (a Redis key prefix and a PostgreSQL schema)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from hypothesis import settings as hypothesis_settings

from eventlog.connections import redis_client
from eventlog.keys import Keys
from eventlog.settings import Settings
from schema.migrate import migrate
from tests.support.in_process_api import in_process_api
from tests.support.schemas import scratch_schema
from tests.support.servers import test_servers
from tests.support.settings import MakeSettings

# Property tests share two cores with servers and other tests: no per-example deadline.
hypothesis_settings.register_profile("shared-machine", deadline=None)
hypothesis_settings.load_profile("shared-machine")


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    with test_servers() as urls:
        yield urls


@pytest.fixture
def database_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """A conninfo whose search_path is a fresh schema, dropped after the test."""
    with scratch_schema(server_urls[1]) as url:
        yield url


@pytest.fixture
def make_settings(server_urls: tuple[str, str], database_url: str) -> MakeSettings:
    """Build test settings: a key prefix of the test's own, no venue latency, fast consumers."""
    prefix = f"t{uuid.uuid4().hex[:12]}"

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": server_urls[0],
            "database_url": database_url,
            "key_prefix": prefix,
            "venue_quote_latency_ms": 0,
            "venue_swap_latency_min_ms": 0,
            "venue_swap_latency_max_ms": 0,
            "venue_failure_rate": 0.0,
            "retry_base_delay_ms": 1,
            "retry_max_delay_ms": 10,
            "consumer_block_ms": 50,
            "consumer_claim_idle_ms": 500,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def settings(make_settings: MakeSettings) -> Settings:
    return make_settings()


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.key_prefix)


@pytest.fixture
def migrated(settings: Settings) -> Settings:
    migrate(settings.require_database_url())
    return settings


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = redis_client(settings)
    try:
        yield client
    finally:
        async for key in client.scan_iter(match=Keys(settings.key_prefix).all(), count=1000):
            await client.unlink(key)
        await client.aclose()


@pytest.fixture
async def api(migrated: Settings, redis: aioredis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the API app in this process, its lifespan running (the `redis`
    fixture removes the test's keys afterwards)."""
    async with in_process_api(migrated) as client:
        yield client
