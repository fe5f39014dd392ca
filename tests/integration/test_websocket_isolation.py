"""API keys on the WebSockets: a client's socket sees only its own orders. Another client's order
stream is refused exactly as an unknown order is; the global stream, live and resumed, carries only
the caller's orders (an operator's key sees everything), so watching it reveals no other client's
order ids. Browsers open a socket with a single-use ticket (`POST /api/stream-tickets`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from api.api_keys import key_hash
from api.ticket_store import issue_ticket
from eventlog.keys import Keys
from eventlog.settings import Settings
from schema.migrate import migrate
from tests.support.polling import eventually
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import (
    RECEIVE_TIMEOUT,
    RunningApi,
    closed_with,
    receive,
    receive_events,
    running_api,
)

pytestmark = pytest.mark.on_cluster_too

ALICE, BOB, OPS = "alice-key-0123456789", "bob-key-0123456789", "ops-key-0123456789"
ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5"}
ALL = "/api/orders/stream/all"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def keyed_settings(make_settings: MakeSettings, **overrides: Any) -> Settings:
    settings = make_settings(
        **{
            "api_keys": f"alice:{ALICE},bob:{BOB}",
            "admin_api_keys": f"ops:{OPS}",
            "ws_unknown_order_grace_ms": 0,
            **overrides,
        }
    )
    migrate(settings.require_database_url())
    return settings


@pytest.fixture
async def server(make_settings: MakeSettings, redis: aioredis.Redis) -> AsyncIterator[RunningApi]:
    async with running_api(keyed_settings(make_settings)) as running:
        yield running


@pytest.fixture
async def http(server: RunningApi) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        yield client


@contextlib.asynccontextmanager
async def socket(
    server: RunningApi, path: str, key: str | None = None
) -> AsyncIterator[ClientConnection]:
    """A WebSocket on `path`, with `key` in the handshake's Authorization header."""
    headers = bearer(key) if key else None
    async with connect(
        f"{server.ws_url}{path}",
        additional_headers=headers,
        compression=None,
        open_timeout=RECEIVE_TIMEOUT,
    ) as ws:
        yield ws


async def connected(ws: ClientConnection) -> None:
    message = await receive(ws)
    assert message["type"] == "connected", message


async def place(http: httpx.AsyncClient, key: str) -> str:
    answer = await http.post("/api/orders/execute", json=ORDER, headers=bearer(key))
    assert answer.status_code == 202, answer.text
    order_id: str = answer.json()["orderId"]
    return order_id


async def cancel(http: httpx.AsyncClient, key: str, order_id: str) -> int:
    return (await http.post(f"/api/orders/{order_id}/cancel", headers=bearer(key))).status_code


def seen(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["orderId"], m["event"]) for m in messages]


async def test_another_client_s_order_stream_is_refused_exactly_as_an_unknown_order(
    server: RunningApi, http: httpx.AsyncClient
) -> None:
    alices = await place(http, ALICE)
    unknown = str(uuid.uuid4())
    refusals = []
    for order_id in (alices, unknown):
        async with socket(server, f"/api/orders/{order_id}/stream", BOB) as ws:
            code, reason, messages = await closed_with(ws)
        assert reason is not None
        texts = [reason.replace(order_id, "<id>")]
        texts += [m["error"].replace(order_id, "<id>") for m in messages]
        refusals.append((code, texts, [m["code"] for m in messages]))
    assert refusals[0] == refusals[1] == (4404, ["order <id> not found"] * 2, ["ORDER_NOT_FOUND"])

    for key in (ALICE, OPS):
        async with socket(server, f"/api/orders/{alices}/stream", key) as ws:
            await connected(ws)
            assert seen(await receive_events(ws, 1)) == [(alices, "OrderPlaced")]


async def test_another_client_s_order_is_refused_no_sooner_than_an_unknown_one(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    """An unknown id is refused after a grace period (the order may be about to appear); another
    client's order waits as long, even when the order has an event meanwhile."""
    grace = 0.5
    settings = keyed_settings(make_settings, ws_unknown_order_grace_ms=int(grace * 1000))
    async with (
        running_api(settings) as server,
        httpx.AsyncClient(base_url=server.http_url, timeout=10) as http,
    ):
        alices = await place(http, ALICE)
        for order_id in (alices, str(uuid.uuid4())):
            started = time.monotonic()
            async with socket(server, f"/api/orders/{order_id}/stream", BOB) as ws:
                closing = asyncio.create_task(closed_with(ws))
                await eventually(lambda: server.relay.subscriber_count == 1, what="subscribed")
                if order_id == alices:
                    assert await cancel(http, ALICE, alices) == 200  # an event in the wait
                code, _, messages = await closing
            assert (code, [m["code"] for m in messages]) == (4404, ["ORDER_NOT_FOUND"])
            assert time.monotonic() - started >= grace


async def test_a_client_on_the_global_stream_sees_only_its_own_orders_live(
    server: RunningApi, http: httpx.AsyncClient
) -> None:
    earlier = await place(http, BOB)  # placed before anyone watched: its owner is looked up
    async with socket(server, ALL, BOB) as bob, socket(server, ALL, OPS) as ops:
        await connected(bob)
        await connected(ops)
        alices = await place(http, ALICE)
        assert await cancel(http, BOB, earlier) == 200
        bobs = await place(http, BOB)
        assert await cancel(http, ALICE, alices) == 200
        last = await place(http, BOB)  # after everything else in the log

        expected_bob = [
            (earlier, "OrderCancelled"),
            (bobs, "OrderPlaced"),
            (last, "OrderPlaced"),
        ]
        assert seen(await receive_events(bob, 3)) == expected_bob
        assert seen(await receive_events(ops, 5)) == [
            (alices, "OrderPlaced"),
            (earlier, "OrderCancelled"),
            (bobs, "OrderPlaced"),
            (alices, "OrderCancelled"),
            (last, "OrderPlaced"),
        ]


async def test_a_resumed_global_stream_catches_up_on_the_client_s_own_orders_only(
    server: RunningApi, http: httpx.AsyncClient
) -> None:
    alices = await place(http, ALICE)
    bobs = await place(http, BOB)
    assert await cancel(http, ALICE, alices) == 200
    assert await cancel(http, BOB, bobs) == 200
    alices_second = await place(http, ALICE)
    last = await place(http, BOB)

    async with socket(server, f"{ALL}?after=0-0", BOB) as bob:
        await connected(bob)
        assert seen(await receive_events(bob, 3)) == [
            (bobs, "OrderPlaced"),
            (bobs, "OrderCancelled"),
            (last, "OrderPlaced"),
        ]
    async with socket(server, f"{ALL}?after=0-0", OPS) as ops:
        await connected(ops)
        assert {order_id for order_id, _ in seen(await receive_events(ops, 6))} == {
            alices,
            bobs,
            alices_second,
            last,
        }


async def test_watching_the_global_stream_reveals_no_other_client_s_order_to_cancel(
    server: RunningApi, http: httpx.AsyncClient
) -> None:
    """The attack: watch every new order on the global stream and cancel it."""
    async with socket(server, ALL, BOB) as bob:
        await connected(bob)
        alices = [await place(http, ALICE) for _ in range(3)]
        marker = await place(http, BOB)
        watched = []
        while marker not in watched:
            watched += [order_id for order_id, _ in seen(await receive_events(bob, 1))]
    assert not set(watched) & set(alices)
    for order_id in watched:
        assert await cancel(http, BOB, order_id) == 200
    for order_id in alices:
        answer = await http.get(f"/api/orders/{order_id}", headers=bearer(ALICE))
        assert answer.json()["order"]["status"] == "pending"


async def ticket_for(http: httpx.AsyncClient, key: str | None) -> dict[str, Any]:
    answer = await http.post("/api/stream-tickets", headers=bearer(key) if key else None)
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def refused_as_unauthorized(server: RunningApi, path: str) -> None:
    async with socket(server, path) as ws:
        code, _, messages = await closed_with(ws)
    assert code == 4401
    assert [m["code"] for m in messages] == ["UNAUTHORIZED"]


async def test_a_ticket_opens_one_socket_once_with_its_client_s_view(
    server: RunningApi, http: httpx.AsyncClient
) -> None:
    issued = await ticket_for(http, BOB)
    assert issued["success"] is True
    assert issued["expiresInSeconds"] == 30
    assert issued["ticket"] != (await ticket_for(http, BOB))["ticket"]
    path = f"{ALL}?ticket={issued['ticket']}"
    async with socket(server, path) as bob:
        await connected(bob)
        await place(http, ALICE)
        bobs = await place(http, BOB)
        assert seen(await receive_events(bob, 1)) == [(bobs, "OrderPlaced")]
    await refused_as_unauthorized(server, path)  # used


async def test_an_unknown_or_keys_off_ticket_or_a_key_in_the_url_opens_nothing(
    server: RunningApi, http: httpx.AsyncClient, redis: aioredis.Redis
) -> None:
    assert (await http.post("/api/stream-tickets")).status_code == 401
    keys: Keys = server.app.state.resources.keys
    from_keys_off = await issue_ticket(redis, keys, None, 30)
    for ticket in ("not-a-ticket", BOB, from_keys_off):
        await refused_as_unauthorized(server, f"{ALL}?ticket={ticket}")
    for name in ("key", "api_key", "apiKey", "token", "authorization"):
        await refused_as_unauthorized(server, f"{ALL}?{name}={BOB}")


async def test_an_expired_ticket_opens_nothing(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    settings = keyed_settings(make_settings, ws_ticket_seconds=1)
    async with (
        running_api(settings) as server,
        httpx.AsyncClient(base_url=server.http_url, timeout=10) as http,
    ):
        issued = await ticket_for(http, BOB)
        assert issued["expiresInSeconds"] == 1
        stored = settings.log_keys().stream_ticket(key_hash(issued["ticket"]))

        async def expired() -> bool:
            return not await redis.exists(stored)

        await eventually(expired, within=5, what="the ticket to expire")
        await refused_as_unauthorized(server, f"{ALL}?ticket={issued['ticket']}")


async def test_with_keys_off_a_ticket_is_still_issued_and_every_socket_sees_everything(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    settings = make_settings()
    migrate(settings.require_database_url())
    async with (
        running_api(settings) as server,
        httpx.AsyncClient(base_url=server.http_url, timeout=10) as http,
    ):
        issued = await ticket_for(http, None)
        async with socket(server, f"{ALL}?ticket={issued['ticket']}") as ws:
            await connected(ws)
            placed = await http.post("/api/orders/execute", json=ORDER)
            assert seen(await receive_events(ws, 1)) == [(placed.json()["orderId"], "OrderPlaced")]


async def test_nothing_one_client_reads_carries_a_trace_of_another_client(
    server: RunningApi, http: httpx.AsyncClient
) -> None:
    """Everything bob reads — answers, lists, metrics, his order and global streams, live and
    resumed — holds nothing of alice: not her name, key, key hash, Idempotency-Key or orders."""
    secret = "alice-idempotency-secret-7"
    placed = await http.post(
        "/api/orders/execute",
        json=ORDER,
        headers={**bearer(ALICE), "Idempotency-Key": secret},
    )
    alices = placed.json()["orderId"]
    texts: list[str] = []
    async with socket(server, ALL, BOB) as live:
        await connected(live)
        mine = await http.post(
            "/api/orders/execute", json=ORDER, headers={**bearer(BOB), "Idempotency-Key": "b-1"}
        )
        bobs = mine.json()["orderId"]
        texts.append(mine.text)
        await place(http, ALICE)  # while bob watches
        assert await cancel(http, BOB, bobs) == 200
        texts += [str(m) for m in await receive_events(live, 2)]
    for path in ("/api/orders", f"/api/orders/{bobs}", f"/api/orders/{bobs}/events"):
        texts.append((await http.get(path, headers=bearer(BOB))).text)
    texts += [(await http.get(p, headers=bearer(BOB))).text for p in ("/api/metrics", "/health")]
    for path in (f"{ALL}?after=0-0", f"/api/orders/{bobs}/stream"):
        async with socket(server, path, BOB) as ws:
            texts += [str(await receive(ws)) for _ in range(3)]  # connected, placed, cancelled
    # Bob naming alice's order himself: told it is not found, and nothing more.
    probes = [
        (await http.get(p, headers=bearer(BOB))).text
        for p in (f"/api/orders/{alices}", f"/api/orders/{alices}/events")
    ]
    probes.append((await http.post(f"/api/orders/{alices}/cancel", headers=bearer(BOB))).text)
    async with socket(server, f"/api/orders/{alices}/stream", BOB) as ws:
        _, reason, messages = await closed_with(ws)
        probes += [str(m) for m in messages] + [str(reason)]

    everything = "\n".join(texts)
    assert bobs in everything  # bob's own view is there
    assert alices not in everything
    for trace in ("alice", ALICE, key_hash(ALICE), secret):
        assert trace not in everything + "\n".join(probes), trace
    assert all("not found" in probe for probe in probes[:3])
