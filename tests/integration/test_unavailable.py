"""When Redis or PostgreSQL cannot be reached, requests get a clear 503 with Retry-After, not a
500 and not a hang; the API answers again as soon as the store is back."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bench.process_readings import free_port
from eventlog.settings import Settings
from tests.support.in_process_api import in_process_api
from tests.support.polling import eventually
from tests.support.settings import MakeSettings
from tests.support.small_redis import small_redis

RedisAt = Callable[[str], dict[str, str | None]]


@pytest.fixture
async def without_postgres(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with PostgreSQL on a closed port; Redis is real (the `redis` fixture removes the
    test's keys afterwards)."""
    settings = make_settings(
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/test",
        api_store_timeout_seconds=0.3,
    )
    async with in_process_api(settings) as client:
        yield client


@pytest.fixture
async def without_redis(
    make_settings: MakeSettings, migrated: Settings, redis_at: RedisAt
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with Redis (or the cluster's node) on a closed port, called with a key from the
    settings (known without Redis, so requests reach the endpoints)."""
    settings = make_settings(
        **redis_at(f"redis://127.0.0.1:{free_port()}/0"), api_keys=f"tester:{TEST_KEY}"
    )
    async with in_process_api(settings) as client:
        client.headers["Authorization"] = f"Bearer {TEST_KEY}"
        yield client


TEST_KEY = "test-key-0123456789"


@pytest.mark.on_cluster_too
async def test_without_redis_and_no_key_in_the_settings_requests_are_503_not_accepted(
    make_settings: MakeSettings, migrated: Settings, redis_at: RedisAt
) -> None:
    """Keys made with `oee keys` live in Redis: without it the API cannot tell whether keys are
    on, so it serves nothing but the open endpoints (never everything to everyone)."""
    settings = make_settings(**redis_at(f"redis://127.0.0.1:{free_port()}/0"))
    order = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
    async with in_process_api(settings) as client:
        for answer in (
            await client.post("/api/orders/execute", json=order),
            await client.get("/api/orders"),
        ):
            _assert_unavailable(answer)
            assert "not accepted" in answer.json()["error"]


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["success"] is False
    assert body["code"] == "SERVICE_UNAVAILABLE"


@pytest.mark.on_cluster_too
async def test_lists_answer_503_while_postgres_is_unreachable(
    without_postgres: httpx.AsyncClient,
) -> None:
    for path in ("/api/orders", "/api/orders?status=confirmed"):
        _assert_unavailable(await without_postgres.get(path))
    health = await without_postgres.get("/health")
    assert health.status_code == 503


@pytest.mark.on_cluster_too
async def test_one_order_is_read_from_the_log_while_postgres_is_unreachable(
    without_postgres: httpx.AsyncClient,
) -> None:
    order = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "2.5"}
    placed = await without_postgres.post("/api/orders/execute", json=order)
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["orderId"]
    found = await without_postgres.get(f"/api/orders/{order_id}")
    assert found.status_code == 200, found.text
    assert found.json()["order"]["status"] == "pending"
    assert found.json()["order"]["amountIn"] == "2.5"
    events = await without_postgres.get(f"/api/orders/{order_id}/events")
    assert [e["type"] for e in events.json()["events"]] == ["OrderPlaced"]
    # The log is the system of record: an order it does not hold does not exist.
    assert (await without_postgres.get(f"/api/orders/{uuid.uuid4()}")).status_code == 404


@pytest.mark.on_cluster_too
async def test_placements_answer_503_while_redis_is_unreachable(
    without_redis: httpx.AsyncClient,
) -> None:
    order = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
    keyed = await without_redis.post(
        "/api/orders/execute", json=order, headers={"Idempotency-Key": "k-1"}
    )
    _assert_unavailable(keyed)
    # Without a key a retry could place the order twice: no Retry-After, and the answer says so.
    unkeyed = await without_redis.post("/api/orders/execute", json=order)
    assert unkeyed.status_code == 503
    assert "retry-after" not in unkeyed.headers
    assert unkeyed.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "Idempotency-Key" in unkeyed.json()["error"]
    # Both name the order's id, to look it up once the log is back.
    for answer in (keyed, unkeyed):
        order_id = answer.json()["details"][0]["orderId"]
        assert str(uuid.UUID(order_id)) == order_id
    _assert_unavailable(await without_redis.get(f"/api/orders/{uuid.uuid4()}/events"))


@pytest.mark.on_cluster_too
async def test_a_placement_refused_before_reaching_the_log_says_it_was_not_accepted(
    make_settings: MakeSettings, migrated: Settings, redis_at: RedisAt
) -> None:
    settings = make_settings(
        **redis_at(f"redis://127.0.0.1:{free_port()}/0"),
        intake_rate_limit_per_minute=100,
        api_keys=f"tester:{TEST_KEY}",
    )
    order = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
    async with in_process_api(settings) as client:
        answer = await client.post(
            "/api/orders/execute", json=order, headers={"Authorization": f"Bearer {TEST_KEY}"}
        )
    _assert_unavailable(answer)  # the rate limit's check failed first: safe to retry
    assert "not accepted" in answer.json()["error"]


@pytest.mark.on_cluster_too
async def test_health_names_what_is_down_but_no_host_or_port_and_logs_the_error_once(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture, redis_at: RedisAt
) -> None:
    redis_port, postgres_port = free_port(), free_port()
    settings = make_settings(
        **redis_at(f"redis://127.0.0.1:{redis_port}/0"),
        database_url=f"postgresql://postgres@127.0.0.1:{postgres_port}/test",
    )
    caplog.set_level("WARNING", logger="api.health_reports")
    async with in_process_api(settings) as client:
        answers = [await client.get("/health") for _ in range(2)]
    for answer in answers:
        assert answer.status_code == 503
        checks = answer.json()["checks"]
        assert checks["redis"] == {"status": "down", "error": "Redis did not answer"}
        assert checks["postgres"] == {"status": "down", "error": "PostgreSQL did not answer"}
        for leak in ("127.0.0.1", str(redis_port), str(postgres_port), "redis://", "postgresql://"):
            assert leak not in answer.text
    logged = [r.getMessage() for r in caplog.records if r.name == "api.health_reports"]
    assert len([m for m in logged if "redis is down" in m and str(redis_port) in m]) == 1
    # PostgreSQL's pool only times out (it logs why itself).
    assert len([m for m in logged if "postgres is down" in m]) == 1


async def test_health_probes_cost_no_store_round_trip_and_a_redis_gone_is_503_within_a_second(
    make_settings: MakeSettings, migrated: Settings
) -> None:
    with small_redis() as url:
        settings = make_settings(redis_url=url)
        server = aioredis.Redis.from_url(url)
        async with in_process_api(settings) as client:
            before = await _probe_writes(server)
            answers = [await client.get("/health") for _ in range(200)]
            assert {a.status_code for a in answers} == {200}
            # The background check's writes, a handful a second: not one per probe.
            assert await _probe_writes(server) - before < 100

            with contextlib.suppress(RedisConnectionError):
                await server.shutdown(nosave=True)

            async def down() -> bool:
                answer = await client.get("/health")
                return answer.status_code == 503 and answer.json()["checks"]["redis"] == {
                    "status": "down",
                    "error": "Redis did not answer",
                }

            await eventually(down, within=1.5, what="/health to say Redis is down")
        await server.aclose()


async def _probe_writes(server: aioredis.Redis) -> int:
    stats: Any = await server.info("commandstats")
    return int(stats.get("cmdstat_set", {}).get("calls", 0))
