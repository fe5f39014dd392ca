"""Fixtures: real servers, and per-test isolation (a Redis key prefix and a PostgreSQL schema)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
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
from tests.support.redis_cluster import redis_cluster
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


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    """A node of a real three-master Redis Cluster, started for the first test that wants it."""
    with redis_cluster() as url:
        yield url


@pytest.fixture
def redis_kind(request: pytest.FixtureRequest) -> str:
    """ "single" (the test servers' Redis), or "cluster" for the second run of a test marked
    `on_cluster_too`."""
    return getattr(request, "param", "single")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("on_cluster_too") is None:
        return
    if "redis_kind" in metafunc.fixturenames:
        metafunc.parametrize("redis_kind", ["single", "cluster"], indirect=True)


@pytest.fixture
def redis_at(redis_kind: str) -> Callable[[str], dict[str, str | None]]:
    """The settings that put the log at `url`: a single Redis, or (in a test's cluster run) the
    node of a cluster; for tests that point the engine at a server of their own or at nothing."""

    def at(url: str) -> dict[str, str | None]:
        if redis_kind == "cluster":
            return {"redis_cluster_url": url, "redis_url": None}
        return {"redis_url": url}

    return at


@pytest.fixture
def database_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """A conninfo whose search_path is a fresh schema, dropped after the test."""
    with scratch_schema(server_urls[1]) as url:
        yield url


@pytest.fixture
def make_settings(
    server_urls: tuple[str, str],
    database_url: str,
    redis_kind: str,
    request: pytest.FixtureRequest,
) -> MakeSettings:
    """Build test settings: a key prefix of the test's own, no venue latency, fast consumers; on
    the test cluster for a test's `cluster` run."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    if redis_kind == "cluster":
        redis_urls = {"redis_cluster_url": request.getfixturevalue("cluster_url")}
    else:
        redis_urls = {"redis_url": server_urls[0]}

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            **redis_urls,
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
    return settings.log_keys()


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
        async for key in client.scan_iter(match=settings.log_keys().all(), count=1000):
            await client.unlink(key)
        await client.aclose()


@pytest.fixture
async def api(migrated: Settings, redis: aioredis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the API app in this process, its lifespan running (the `redis`
    fixture removes the test's keys afterwards)."""
    async with in_process_api(migrated) as client:
        yield client
