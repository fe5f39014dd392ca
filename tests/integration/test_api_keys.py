"""API keys and per-client isolation: with keys, every endpoint but the open ones needs one; a
client sees, lists, counts and cancels only its own orders (another's is a 404, as for an unknown
id); an operator's key sees everything. Keys given in the settings and made with `oee keys`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from api.api_keys import create_key, revoke_key
from eventlog.settings import Settings
from oee.parts import drain_projections
from schema.migrate import migrate
from tests.support.in_process_api import in_process_api
from tests.support.polling import eventually
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import client, closed_with, running_api

pytestmark = pytest.mark.on_cluster_too

ALICE, BOB, OPS = "alice-key-0123456789", "bob-key-0123456789", "ops-key-0123456789"
ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5"}
LAUNCH = {
    "venue": "raydium",
    "tokenA": "SOL",
    "tokenB": f"K{uuid.uuid4().hex[:6].upper()}",
    "reserveA": "100",
    "reserveB": "1000000",
    "decimalsB": 6,
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(make_settings: MakeSettings) -> Settings:
    settings = make_settings(api_keys=f"alice:{ALICE},bob:{BOB}", admin_api_keys=f"ops:{OPS}")
    migrate(settings.require_database_url())
    return settings


@pytest.fixture
async def api(keyed: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_api(keyed) as http:
        yield http


async def place(api: httpx.AsyncClient, key: str) -> str:
    answer = await api.post("/api/orders/execute", json=ORDER, headers=bearer(key))
    assert answer.status_code == 202, answer.text
    order_id: str = answer.json()["orderId"]
    return order_id


def protected(order_id: str) -> list[tuple[str, str, Any]]:
    """Every endpoint that needs a key: method, path, JSON body."""
    return [
        ("POST", "/api/orders/execute", ORDER),
        ("POST", "/api/stream-tickets", None),
        ("POST", f"/api/orders/{order_id}/cancel", None),
        ("GET", "/api/orders", None),
        ("GET", f"/api/orders/{order_id}", None),
        ("GET", f"/api/orders/{order_id}/events", None),
        ("GET", "/api/metrics", None),
        ("GET", "/metrics", None),
        ("GET", "/api/venues/prices", None),
        ("POST", "/api/venues/pools", LAUNCH),
    ]


async def test_only_an_operator_launches_a_pool(api: httpx.AsyncClient) -> None:
    refused = await api.post("/api/venues/pools", json=LAUNCH, headers=bearer(ALICE))
    assert refused.status_code == 403
    assert refused.json()["code"] == "FORBIDDEN"
    launched = await api.post("/api/venues/pools", json=LAUNCH, headers=bearer(OPS))
    assert launched.status_code == 201, launched.text
    assert launched.json()["pair"] == f"SOL/{LAUNCH['tokenB']}"
    again = await api.post("/api/venues/pools", json=LAUNCH, headers=bearer(OPS))
    assert (again.status_code, again.json()["code"]) == (409, "POOL_EXISTS")
    # Its id names no order, for anyone.
    pool_id = launched.json()["poolId"]
    for method, path in (
        ("GET", f"/api/orders/{pool_id}"),
        ("POST", f"/api/orders/{pool_id}/cancel"),
    ):
        answer = await api.request(method, path, headers=bearer(OPS))
        assert answer.status_code == 404, (path, answer.text)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("not-a-key-of-anyone"),
        {"X-API-Key": "not-a-key-of-anyone"},
        {"Authorization": f"Basic {ALICE}"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong bearer", "wrong x-api-key", "not bearer", "empty bearer"],
)
async def test_without_a_valid_key_every_protected_endpoint_is_401_and_changes_nothing(
    api: httpx.AsyncClient, keyed: Settings, redis: aioredis.Redis, headers: dict[str, str]
) -> None:
    order_id = await place(api, ALICE)
    log_length = await redis.xlen(keyed.log_keys().events)
    for method, path, body in protected(order_id):
        answer = await api.request(method, path, json=body, headers=headers)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["code"] == "UNAUTHORIZED"
    assert await redis.xlen(keyed.log_keys().events) == log_length


async def test_the_open_endpoints_need_no_key(api: httpx.AsyncClient) -> None:
    for path in ("/health", "/openapi.json", "/", "/static/dashboard.js"):
        answer = await api.get(path)
        assert answer.status_code in (200, 503), path  # /health says what it finds
        assert answer.status_code != 401


async def test_a_client_sees_only_its_own_orders_and_another_s_is_not_found(
    api: httpx.AsyncClient, keyed: Settings
) -> None:
    mine = await place(api, ALICE)
    # Not projected yet: read from the log, owner checked there too.
    assert (await api.get(f"/api/orders/{mine}", headers=bearer(BOB))).status_code == 404
    assert (await api.get(f"/api/orders/{mine}", headers=bearer(ALICE))).status_code == 200
    theirs = await place(api, BOB)
    await drain_projections(keyed)

    for order_id, owner, other in ((mine, ALICE, BOB), (theirs, BOB, ALICE)):
        for path in (f"/api/orders/{order_id}", f"/api/orders/{order_id}/events"):
            assert (await api.get(path, headers=bearer(owner))).status_code == 200
            refused = await api.get(path, headers=bearer(other))
            unknown = await api.get(
                path.replace(order_id, str(uuid.uuid4())), headers=bearer(other)
            )
            assert refused.status_code == unknown.status_code == 404
            assert refused.json()["code"] == unknown.json()["code"] == "ORDER_NOT_FOUND"

    listed = await api.get("/api/orders", headers=bearer(ALICE))
    assert [o["id"] for o in listed.json()["orders"]] == [mine]
    everything = await api.get("/api/orders", headers=bearer(OPS))
    assert {o["id"] for o in everything.json()["orders"]} == {mine, theirs}
    for key in (ALICE, BOB, OPS):
        assert (await api.get(f"/api/orders/{mine}", headers={"X-API-Key": key})).status_code == (
            404 if key == BOB else 200
        )


async def test_a_client_cannot_cancel_another_s_order_but_its_own(
    api: httpx.AsyncClient, keyed: Settings
) -> None:
    order_id = await place(api, ALICE)
    refused = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(BOB))
    assert refused.status_code == 404
    events = await api.get(f"/api/orders/{order_id}/events", headers=bearer(ALICE))
    assert "OrderCancelled" not in [e["type"] for e in events.json()["events"]]
    cancelled = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(ALICE))
    assert cancelled.status_code == 200


async def test_an_ended_order_read_by_its_owner_is_still_not_found_for_another_client(
    api: httpx.AsyncClient, keyed: Settings
) -> None:
    order_id = await place(api, ALICE)
    await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(ALICE))
    await drain_projections(keyed)
    for _ in range(2):  # the second answer is the one kept in memory for an ended order
        mine = await api.get(f"/api/orders/{order_id}", headers=bearer(ALICE))
        assert mine.json()["order"]["status"] == "cancelled"
        refused = await api.get(f"/api/orders/{order_id}", headers=bearer(BOB))
        assert (refused.status_code, refused.json()["code"]) == (404, "ORDER_NOT_FOUND")
    assert (await api.get(f"/api/orders/{order_id}", headers=bearer(OPS))).status_code == 200


async def test_metrics_count_a_client_s_own_orders_and_prometheus_is_for_operators(
    api: httpx.AsyncClient, keyed: Settings
) -> None:
    await place(api, ALICE)
    for _ in range(2):
        await place(api, BOB)
    await drain_projections(keyed)

    def placed(answer: httpx.Response) -> int:
        return sum(answer.json()["orders"][s] for s in ("pending", "routing", "cancelled"))

    assert placed(await api.get("/api/metrics", headers=bearer(ALICE))) == 1
    assert placed(await api.get("/api/metrics", headers=bearer(BOB))) == 2
    assert placed(await api.get("/api/metrics", headers=bearer(OPS))) == 3
    assert (await api.get("/api/metrics", headers=bearer(ALICE))).json()["consumerGroups"] == {}
    forbidden = await api.get("/metrics", headers=bearer(ALICE))
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "FORBIDDEN"
    assert (await api.get("/metrics", headers=bearer(OPS))).status_code == 200


async def test_keys_made_with_oee_keys_work_and_stop_working_once_revoked(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    settings = make_settings(api_keys_refresh_seconds=0.05)
    migrate(settings.require_database_url())
    keys = settings.log_keys()
    async with in_process_api(settings) as api:
        assert (await api.get("/api/orders")).status_code == 200  # no key anywhere: keys off
        key_id, key = await create_key(redis, keys, "carol", admin=False)

        async def refused_without_key() -> bool:
            return (await api.get("/api/orders")).status_code == 401

        await eventually(refused_without_key, what="keys to be on")
        assert (await api.get("/api/orders", headers=bearer(key))).status_code == 200
        stored: Any = await redis.hgetall(keys.api_keys)
        assert not any(key.encode() in field + value for field, value in stored.items())

        assert await revoke_key(redis, keys, key_id)

        async def revoked() -> bool:
            return (await api.get("/api/orders", headers=bearer(key))).status_code == 401

        await eventually(revoked, what="the revoked key to be refused")
        assert (await api.get("/api/orders")).status_code == 401  # keys stay on


async def test_a_websocket_without_a_valid_key_is_closed_4401(keyed: Settings) -> None:
    async with (
        running_api(keyed) as server,
        client(f"{server.ws_url}/api/orders/stream/all") as ws,
    ):
        code, reason, messages = await closed_with(ws)
    assert code == 4401
    assert reason == "an API key is required"
    assert [m["code"] for m in messages] == ["UNAUTHORIZED"]
