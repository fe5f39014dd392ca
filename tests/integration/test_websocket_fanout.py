"""Fan-out: many sockets on one process, a stalled client, and several API processes on one log."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from decimal import Decimal

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection

from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.settings import Settings
from schema.events import Quote, RouteSelected
from tests.support.polling import eventually
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import (
    StalledClient,
    append_steps,
    client,
    lifecycle_payloads,
    place,
    receive,
    receive_events,
    running_api,
)

ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "2"}


async def open_clients(stack: contextlib.AsyncExitStack, urls: list[str]) -> list[ClientConnection]:
    """Connect every url at once; each has received its `connected` message."""

    async def one(url: str) -> ClientConnection:
        ws = await stack.enter_async_context(client(url))
        assert (await receive(ws))["type"] == "connected"
        return ws

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def test_500_sockets_on_one_process_all_receive_each_event(
    make_settings: MakeSettings, redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    order_id = await place(appender)
    settings = make_settings(ws_max_streams_per_client=500)  # all from one address
    async with running_api(settings) as server, contextlib.AsyncExitStack() as stack:
        urls = [f"{server.ws_url}/api/orders/stream/all"] * 250
        urls += [f"{server.ws_url}/api/orders/{order_id}/stream"] * 250
        sockets = await open_clients(stack, urls)
        followers = sockets[250:]
        await asyncio.gather(*(receive_events(ws, 1) for ws in followers))  # the history

        positions = await append_steps(appender, order_id, lifecycle_payloads()[:2])

        received = await asyncio.gather(*(receive_events(ws, 2) for ws in sockets))
    for messages in received:
        assert [m["position"] for m in messages] == positions
        assert [m["type"] for m in messages] == ["status_update", "retry"]


def big_event(attempt: int) -> RouteSelected:
    """An event of about 32 KiB, so a stalled client's network buffers fill after few events."""
    quote = Quote(venue="meteora", amount_out=Decimal(1), fee=Decimal(0), price_impact=Decimal(0))
    return RouteSelected(
        attempt=attempt,
        quotes=(quote,),
        chosen=quote,
        expected_out=Decimal(1),
        min_amount_out=Decimal(1),
        reason="x" * 32_768,
    )


async def test_a_stalled_client_is_closed_as_too_slow_while_the_others_keep_receiving(
    make_settings: MakeSettings, redis: aioredis.Redis, keys: Keys
) -> None:
    settings: Settings = make_settings(ws_buffer_size=8)
    appender = EventAppender(redis, keys)
    order_id = await place(appender)
    async with running_api(settings) as server, contextlib.AsyncExitStack() as stack:
        stalled = await StalledClient.open(server.ws_url, "/api/orders/stream/all")
        stack.callback(stalled.close)
        healthy = await open_clients(stack, [f"{server.ws_url}/api/orders/stream/all"] * 20)
        await eventually(lambda: server.relay.subscriber_count == 21, what="21 subscribers")

        # The stalled client reads nothing: its buffers fill, then the server gives up on it.
        delays: list[float] = []
        sequence = 1
        while server.relay.subscriber_count == 21:
            assert sequence < 2_000, "the stalled client was never closed"
            started = time.monotonic()
            await append_steps(appender, order_id, [big_event(sequence)], sequence)
            await asyncio.gather(*(receive_events(ws, 1) for ws in healthy))
            delays.append(time.monotonic() - started)
            sequence += 1
        # The others keep receiving, and were never held up by the stalled one.
        await append_steps(appender, order_id, [big_event(sequence)], sequence)
        for messages in await asyncio.gather(*(receive_events(ws, 1) for ws in healthy)):
            assert messages[0]["sequence"] == sequence + 1
        assert max(delays) < 1.0, delays

        # When the stalled client reads again it finds its backlog, then the reason it was cut off.
        code, reason, backlog = await stalled.read_until_closed()
    assert (code, reason) == (4008, "too slow: message buffer overflowed")
    sequences = [m["sequence"] for m in backlog if m["type"] == "status_update"]
    assert sequences == list(range(2, 2 + len(sequences)))
    assert len(sequences) < sequence


async def test_clients_of_two_api_processes_see_the_same_events(
    make_settings: MakeSettings, redis: aioredis.Redis, keys: Keys
) -> None:
    settings: Settings = make_settings()
    async with (
        running_api(settings) as first,
        running_api(settings) as second,
        contextlib.AsyncExitStack() as stack,
    ):
        watchers = await open_clients(
            stack, [f"{api.ws_url}/api/orders/stream/all" for api in (first, second)]
        )
        async with httpx.AsyncClient(base_url=first.http_url) as http:
            response = await http.post("/api/orders/execute", json=ORDER)
        order_id = response.json()["orderId"]
        followers = await open_clients(
            stack, [f"{api.ws_url}/api/orders/{order_id}/stream" for api in (second, first)]
        )
        await append_steps(EventAppender(redis, keys), uuid.UUID(order_id), lifecycle_payloads())

        seen = await asyncio.gather(*(receive_events(ws, 8) for ws in watchers + followers))
    assert all(messages == seen[0] for messages in seen)
    assert [m["sequence"] for m in seen[0]] == list(range(1, 9))
    assert seen[0][0]["orderId"] == order_id


async def test_sockets_add_no_redis_connections(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    """One reader per process serves every socket: connections do not grow with sockets."""
    settings = make_settings(ws_max_streams_per_client=101)  # all from one address
    async with running_api(settings) as server, contextlib.AsyncExitStack() as stack:
        pool = server.app.state.resources.redis.connection_pool

        def redis_connections() -> int:
            return sum(count for count, _ in pool.get_connection_count())

        await open_clients(stack, [f"{server.ws_url}/api/orders/stream/all"])
        before = redis_connections()
        await open_clients(stack, [f"{server.ws_url}/api/orders/stream/all"] * 100)
        assert redis_connections() == before


async def test_a_lost_redis_connection_pauses_the_stream_without_a_gap(
    settings: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    order_id = await place(appender)
    async with (
        running_api(settings) as server,
        client(f"{server.ws_url}/api/orders/stream/all") as ws,
    ):
        await receive(ws)
        before = await append_steps(appender, order_id, lifecycle_payloads()[:2])
        assert [m["position"] for m in await receive_events(ws, 2)] == before

        # The API's connections drop (a network blip); events keep being appended meanwhile.
        await server.app.state.resources.redis.connection_pool.disconnect()
        after = await append_steps(appender, order_id, lifecycle_payloads()[2:5], 3)

        assert [m["position"] for m in await receive_events(ws, 3)] == after
