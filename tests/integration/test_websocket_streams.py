"""The WebSocket streams as a client sees them: history then live, resume, errors, ping, closing."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from api.stream_messages import camel_case
from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_order
from eventlog.settings import Settings
from oee.parts import drain_projections
from schema.events import (
    PAYLOAD_TYPES,
    VENUE_EVENT_TYPES,
    MarketMoved,
    OrderCancelled,
    OrderExpired,
    OrderFailed,
    OrderOpened,
    OrderTriggered,
    Payload,
    PoolLaunched,
    PoolMove,
    RoutingStarted,
    market_step_id,
    new_event,
    pool_id,
)
from tests.support.polling import eventually
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import (
    LIFECYCLE_STATUSES,
    RunningApi,
    append_steps,
    client,
    closed_with,
    lifecycle_payloads,
    place,
    receive,
    receive_events,
    running_api,
)

pytestmark = pytest.mark.on_cluster_too

ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5"}


@pytest.fixture
async def server(make_settings: MakeSettings, redis: aioredis.Redis) -> AsyncIterator[RunningApi]:
    settings: Settings = make_settings(ws_close_after_terminal_ms=200, ws_unknown_order_grace_ms=0)
    async with running_api(settings) as running:
        yield running


@pytest.fixture
def appender(redis: aioredis.Redis, keys: Keys) -> EventAppender:
    return EventAppender(redis, keys)


def statuses(messages: list[dict[str, Any]]) -> list[str]:
    return [m["status"] for m in messages]


async def test_a_client_arriving_after_the_order_finished_gets_its_whole_history(
    server: RunningApi, appender: EventAppender
) -> None:
    order_id = await place(appender)
    await append_steps(appender, order_id, lifecycle_payloads())

    async with client(f"{server.ws_url}/api/orders/{order_id}/stream") as ws:
        code, reason, messages = await closed_with(ws)

    assert messages[0]["type"] == "connected"
    assert messages[0]["orderId"] == str(order_id)
    events = messages[1:]
    assert statuses(events) == LIFECYCLE_STATUSES
    assert [m["sequence"] for m in events] == list(range(1, 9))
    assert events[0]["event"] == "OrderPlaced"
    assert events[0]["data"]["amountIn"] == "1.5"
    assert events[-1]["data"]["txHash"] == "tx-1"
    # The order is finished: the server says so shortly after the last event.
    assert (code, reason) == (1000, "order finished")


async def test_every_event_message_says_in_words_what_happened_and_keeps_its_payload(
    server: RunningApi, appender: EventAppender
) -> None:
    failed = OrderFailed(attempts=1, error_code="NO_ROUTE", error_message="no pool for the pair")
    steps: list[list[Payload]] = [
        lifecycle_payloads(),  # routing, a retry, building, submitted, confirmed
        [OrderOpened(limit_price=Decimal("101.5")), OrderExpired()],
        [
            OrderOpened(limit_price=Decimal("101.5")),
            OrderTriggered(limit_price=Decimal("101.5"), market_out=Decimal("152.25")),
            OrderCancelled(),
        ],
        [OrderCancelled()],
        [RoutingStarted(attempt=1), failed],
    ]
    sent: dict[tuple[str, int], Payload] = {}  # (order id, sequence) → payload
    for payloads in steps:
        order_id = await place(appender)
        await append_steps(appender, order_id, payloads)
        sent.update({(str(order_id), n): p for n, p in enumerate(payloads, start=2)})
    launch = new_event(
        PoolLaunched(
            venue="raydium",
            token_a="SOL",
            token_b="NEWCOIN",
            reserve_a=Decimal(10),
            reserve_b=Decimal(1000),
            decimals_b=6,
            mint_b="mint",
        ),
        order_id=pool_id("raydium", "SOL", "NEWCOIN"),
        sequence=1,
    )
    moved = new_event(
        MarketMoved(
            epoch=1,
            steps=1,
            pools=(
                PoolMove(
                    venue="raydium",
                    pair="SOL/USDC",
                    price_before=Decimal(150),
                    price_after=Decimal("150.2"),
                ),
            ),
        ),
        order_id=market_step_id(1),
        sequence=1,
    )
    await appender.append([launch], expected_sequence=0)
    await appender.append([moved], expected_sequence=0)
    count = sum(len(payloads) + 1 for payloads in steps) + 2

    async with client(f"{server.ws_url}/api/orders/stream/all?after=0") as ws:
        events = await receive_events(ws, count)

    assert {m["event"] for m in events} == set(PAYLOAD_TYPES)  # every event type is covered
    for message in events:
        data = message["data"]
        assert isinstance(data["message"], str), message
        assert data["message"].strip(), message
        if message["event"] in VENUE_EVENT_TYPES:
            assert (message["type"], message["status"]) == ("venue_update", None)
        elif message["sequence"] > 1:
            payload = sent[message["orderId"], message["sequence"]].model_dump(mode="json")
            payload = camel_case(payload)
            assert {k: v for k, v in data.items() if k != "message"} == payload, message
    placed = next(m["data"] for m in events if m["event"] == "OrderPlaced")
    assert (placed["orderType"], placed["amountIn"], placed["tokenIn"]) == ("market", "1.5", "SOL")
    said = {m["event"]: m["data"]["message"] for m in events}
    assert said["OrderPlaced"].startswith("Order received and queued")
    assert said["RoutingStarted"].startswith("Finding the best route")
    assert said["TransactionSubmitted"] == "Transaction submitted: tx-1"
    assert said["OrderConfirmed"].startswith("Order confirmed: 150.4 received")
    assert said["AttemptFailed"].startswith("Retrying after quote expired")
    assert said["OrderFailed"] == "Order failed: no pool for the pair"
    assert said["OrderCancelled"].startswith("Order cancelled")
    assert said["OrderExpired"].startswith("Order expired")
    assert said["OrderOpened"].startswith("Order open, waiting for its price")
    assert said["PoolLaunched"] == "Pool launched on raydium: SOL/NEWCOIN"
    assert said["MarketMoved"] == "The market moved (arbitrage and drift): 1 pool(s)"


UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def test_every_timestamp_has_one_format_ending_in_z(
    migrated: Settings, server: RunningApi, appender: EventAppender
) -> None:
    order_id = await place(appender)
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        stamps = {
            "health": (await http.get("/health")).json()["timestamp"],
            "metrics": (await http.get("/api/metrics")).json()["timestamp"],
            "order": (await http.get(f"/api/orders/{order_id}")).json()["order"]["createdAt"],
        }
    async with client(f"{server.ws_url}/api/orders/{order_id}/stream") as ws:
        stamps["connected"] = (await receive(ws))["timestamp"]
        stamps["status_update"] = (await receive_events(ws, 1))[0]["timestamp"]
        await ws.send('{"type":"ping"}')
        stamps["pong"] = (await receive(ws))["timestamp"]
        await ws.send("hello")
        stamps["error"] = (await receive(ws))["timestamp"]
    assert {k: v for k, v in stamps.items() if not UTC_Z.match(v)} == {}


async def test_a_failed_attempt_that_will_be_retried_is_a_retry_message(
    server: RunningApi, appender: EventAppender
) -> None:
    order_id = await place(appender)
    await append_steps(appender, order_id, lifecycle_payloads()[:2])

    async with client(f"{server.ws_url}/api/orders/{order_id}/stream") as ws:
        await receive(ws)
        *_, retry = await receive_events(ws, 3)

    assert retry["type"] == "retry"
    assert retry["status"] == "routing"
    assert retry["attempt"] == 1
    assert retry["errorCode"] == "QUOTE_EXPIRED"
    assert retry["retryDelayMs"] == 250


async def test_a_client_on_the_global_stream_before_the_post_sees_pending_then_every_step(
    server: RunningApi, appender: EventAppender
) -> None:
    async with client(f"{server.ws_url}/api/orders/stream/all") as ws:
        assert (await receive(ws))["type"] == "connected"
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            response = await http.post("/api/orders/execute", json=ORDER)
        assert response.status_code == 202
        order_id = uuid.UUID(response.json()["orderId"])
        [placed] = await receive_events(ws, 1)
        assert placed["orderId"] == str(order_id)
        assert placed["status"] == "pending"
        assert placed["position"] == response.json()["position"]

        await append_steps(appender, order_id, lifecycle_payloads())
        rest = await receive_events(ws, 7)

    assert statuses([placed, *rest]) == LIFECYCLE_STATUSES
    assert [m["sequence"] for m in [placed, *rest]] == list(range(1, 9))


async def test_an_order_stream_joins_history_and_live_events_without_gap_or_duplicate(
    server: RunningApi, appender: EventAppender
) -> None:
    """Clients connect at many moments while the order is being written to."""
    order_id = await place(appender)
    steps = 150

    async def follow() -> list[int]:
        async with client(f"{server.ws_url}/api/orders/{order_id}/stream") as ws:
            await receive(ws)
            sequences: list[int] = []
            while not sequences or sequences[-1] < steps + 1:
                sequences += [m["sequence"] for m in await receive_events(ws, 1)]
            return sequences

    followers: list[asyncio.Task[list[int]]] = []
    for sequence in range(2, steps + 2):
        if sequence % 8 == 0:
            followers.append(asyncio.create_task(follow()))
        await append_steps(appender, order_id, [RoutingStarted(attempt=1)], sequence - 1)
    for received in await asyncio.gather(*followers):
        assert received == list(range(1, steps + 2))


async def test_global_resumes_join_the_live_stream_without_gap_or_duplicate(
    server: RunningApi, appender: EventAppender, redis: aioredis.Redis, keys: Keys
) -> None:
    """Clients resume from the same position at many moments while the log is being written."""
    order_id = await place(appender)
    [placed] = await read_order(redis, keys, order_id)
    steps = 150

    async def follow() -> list[str]:
        async with client(f"{server.ws_url}/api/orders/stream/all?after={placed.position}") as ws:
            await receive(ws)
            received: list[str] = []
            while len(received) < steps:
                received += [m["position"] for m in await receive_events(ws, 1)]
            return received

    followers: list[asyncio.Task[list[str]]] = []
    positions: list[str] = []
    for sequence in range(2, steps + 2):
        if sequence % 8 == 0:
            followers.append(asyncio.create_task(follow()))
        step = [RoutingStarted(attempt=1)]
        positions += await append_steps(appender, order_id, step, sequence - 1)
    for received in await asyncio.gather(*followers):
        assert received == positions


async def test_resuming_an_order_stream_after_a_position_gives_exactly_the_later_events(
    server: RunningApi, appender: EventAppender, redis: aioredis.Redis, keys: Keys
) -> None:
    order_id = await place(appender)
    await append_steps(appender, order_id, lifecycle_payloads()[:3])
    history = await read_order(redis, keys, order_id)

    after = history[1].position
    async with client(f"{server.ws_url}/api/orders/{order_id}/stream?after={after}") as ws:
        assert (await receive(ws))["after"] == after
        resumed = await receive_events(ws, 2)
        await append_steps(appender, order_id, lifecycle_payloads()[3:4], after_sequence=4)
        live = await receive_events(ws, 1)

    assert [m["sequence"] for m in resumed + live] == [3, 4, 5]
    assert resumed[0]["position"] == history[2].position


async def test_resuming_the_global_stream_after_a_position_gives_exactly_the_later_events(
    server: RunningApi, appender: EventAppender, redis: aioredis.Redis, keys: Keys
) -> None:
    first, second = await place(appender), await place(appender)
    await append_steps(appender, first, lifecycle_payloads()[:2])
    after = (await read_order(redis, keys, first))[0].position

    async with client(f"{server.ws_url}/api/orders/stream/all?after={after}") as ws:
        await receive(ws)
        caught_up = await receive_events(ws, 3)
        third = await place(appender)
        live = await receive_events(ws, 1)

    assert [(m["orderId"], m["sequence"]) for m in caught_up + live] == [
        (str(second), 1),
        (str(first), 2),
        (str(first), 3),
        (str(third), 1),
    ]
    positions = [m["position"] for m in caught_up + live]
    assert positions == sorted(positions, key=lambda p: tuple(map(int, p.split("-"))))


@pytest.mark.parametrize(
    "after",
    [
        "yesterday",
        "12-ab",
        "-1",
        "1-2-3",
        "",
        "\u00b2",
        "18446744073709551615-18446744073709551615",
    ],
)
async def test_a_bad_resume_position_is_refused_with_a_clear_close(
    server: RunningApi, after: str
) -> None:
    async with client(f"{server.ws_url}/api/orders/stream/all?after={after}") as ws:
        code, reason, messages = await closed_with(ws)
    assert code == 4400
    assert reason is not None
    assert "not a log position" in reason
    assert [m["code"] for m in messages] == ["INVALID_POSITION"]


async def test_an_unknown_order_id_is_closed_with_not_found(server: RunningApi) -> None:
    unknown = uuid.uuid4()
    async with client(f"{server.ws_url}/api/orders/{unknown}/stream") as ws:
        code, reason, messages = await closed_with(ws)
    assert code == 4404
    assert reason == f"order {unknown} not found"
    assert [m["code"] for m in messages] == ["ORDER_NOT_FOUND"]


async def test_a_malformed_order_id_is_closed_as_invalid(server: RunningApi) -> None:
    async with client(f"{server.ws_url}/api/orders/not-a-uuid/stream") as ws:
        code, reason, messages = await closed_with(ws)
    assert (code, reason) == (4400, "malformed order id")
    assert [m["code"] for m in messages] == ["INVALID_ORDER_ID"]


async def test_an_order_that_appears_just_after_the_client_connects_is_followed(
    make_settings: MakeSettings, redis: aioredis.Redis, appender: EventAppender
) -> None:
    settings: Settings = make_settings(ws_unknown_order_grace_ms=5_000)
    order_id = uuid.uuid4()
    async with (
        running_api(settings) as server,
        client(f"{server.ws_url}/api/orders/{order_id}/stream") as ws,
    ):
        await place(appender, order_id)
        assert (await receive(ws))["type"] == "connected"
        [placed] = await receive_events(ws, 1)
        assert placed["status"] == "pending"


async def test_ping_gets_pong_and_anything_else_an_error_without_closing(
    server: RunningApi, appender: EventAppender
) -> None:
    order_id = await place(appender)
    async with client(f"{server.ws_url}/api/orders/{order_id}/stream") as ws:
        await receive_events(ws, 1)
        await ws.send('{"type":"ping"}')
        assert (await receive(ws))["type"] == "pong"
        await ws.send("hello")
        assert (await receive(ws))["code"] == "UNKNOWN_MESSAGE"
        await ws.send('{"type":"ping"}')
        assert (await receive(ws))["type"] == "pong"


async def test_a_client_frame_over_the_limit_closes_the_socket_and_the_api_keeps_serving(
    server: RunningApi, make_settings: MakeSettings
) -> None:
    limit = make_settings().ws_max_client_frame_bytes
    async with client(f"{server.ws_url}/api/orders/stream/all") as ws:
        assert (await receive(ws))["type"] == "connected"
        await ws.send("x" * (limit + 1))
        code, _, _ = await closed_with(ws)
    assert code == 1009  # message too big: refused before it was read into memory
    async with client(f"{server.ws_url}/api/orders/stream/all") as ws:
        assert (await receive(ws))["type"] == "connected"
        await ws.send('{"type":"ping"}' + " " * (limit - 20))  # at the limit: still read
        assert (await receive(ws))["type"] == "pong"


HEARTBEAT = 0.25  # seconds, the test's ws_heartbeat_seconds


async def test_a_quiet_socket_gets_a_heartbeat_each_interval_after_its_last_message(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    settings: Settings = make_settings(ws_heartbeat_seconds=HEARTBEAT)
    async with (
        running_api(settings) as server,
        client(f"{server.ws_url}/api/orders/stream/all") as ws,
    ):
        assert (await receive(ws))["type"] == "connected"
        times = [time.monotonic()]  # `connected` counts as a message to the socket
        for _ in range(4):
            assert (await receive(ws, within=2 * HEARTBEAT + 1))["type"] == "heartbeat"
            times.append(time.monotonic())
        await ws.send('{"type":"ping"}')
        assert (await receive(ws))["type"] == "pong"
        pong = time.monotonic()
        assert (await receive(ws, within=2 * HEARTBEAT + 1))["type"] == "heartbeat"
        after_pong = time.monotonic() - pong

    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Not early: each comes an interval after the socket's last message (a little clock slack).
    assert min(gaps) > 0.8 * HEARTBEAT, gaps
    assert after_pong > 0.8 * HEARTBEAT
    # And not one interval in two: four heartbeats take about four intervals, not eight.
    assert times[-1] - times[0] < 4 * HEARTBEAT + 0.45, gaps


async def test_an_order_stream_closes_shortly_after_a_live_terminal_event(
    server: RunningApi, appender: EventAppender
) -> None:
    order_id = await place(appender)
    async with client(f"{server.ws_url}/api/orders/{order_id}/stream") as ws:
        await receive_events(ws, 1)
        failed = OrderFailed(attempts=0, error_code="NO_ROUTE", error_message="no route")
        await append_steps(appender, order_id, [failed])
        code, reason, messages = await closed_with(ws)
    assert [m["status"] for m in messages if m["type"] == "status_update"] == ["failed"]
    assert (code, reason) == (1000, "order finished")


async def test_resuming_after_the_terminal_event_closes_instead_of_hanging(
    server: RunningApi, appender: EventAppender, redis: aioredis.Redis, keys: Keys
) -> None:
    order_id = await place(appender)
    await append_steps(appender, order_id, lifecycle_payloads())
    last = (await read_order(redis, keys, order_id))[-1].position
    async with client(f"{server.ws_url}/api/orders/{order_id}/stream?after={last}") as ws:
        code, reason, messages = await closed_with(ws)
    assert [m["type"] for m in messages] == ["connected"]
    assert (code, reason) == (1000, "order finished")


async def test_clients_that_leave_at_any_moment_leave_nothing_behind(
    server: RunningApi, appender: EventAppender
) -> None:
    order_id = await place(appender)
    await append_steps(appender, order_id, lifecycle_payloads()[:3])
    # How many messages each stream has for a client before it leaves.
    streams = {
        f"{server.ws_url}/api/orders/{order_id}/stream": 5,
        f"{server.ws_url}/api/orders/stream/all?after=0": 5,
        f"{server.ws_url}/api/orders/stream/all": 1,
    }

    async def visit(url: str, messages: int) -> None:
        async with client(url) as ws:
            for _ in range(messages):
                await receive(ws)

    await asyncio.gather(*(visit(url, n) for url, most in streams.items() for n in range(most + 1)))
    await eventually(lambda: server.relay.subscriber_count == 0, what="no subscribers left")


async def test_no_answer_or_stream_message_shows_who_placed_an_order_or_their_key(
    migrated: Settings, server: RunningApi
) -> None:
    secret_key, api_key = "my-idempotency-secret-42", "client-api-key-7"
    body = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
    headers = {"Idempotency-Key": secret_key, "X-API-Key": api_key}
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        placed = await http.post("/api/orders/execute", json=body, headers=headers)
        order_id = placed.json()["orderId"]
        texts = [
            placed.text,
            (await http.get(f"/api/orders/{order_id}")).text,
            (await http.get(f"/api/orders/{order_id}/events")).text,  # from the log
        ]
        await drain_projections(migrated)
        texts += [
            (await http.get(f"/api/orders/{order_id}/events")).text,  # from the table
            (await http.get("/api/orders")).text,
        ]
    for url in (f"/api/orders/{order_id}/stream", "/api/orders/stream/all?after=0"):
        async with client(f"{server.ws_url}{url}") as ws:
            texts += [orjson.dumps(await receive(ws)).decode() for _ in range(2)]
    assert any("OrderPlaced" in text for text in texts)
    for text in texts:
        for trace in (secret_key, api_key, "clientId", "idempotencyKey", "addr:", "key:"):
            assert trace not in text, (trace, text)
