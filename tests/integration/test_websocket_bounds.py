"""WebSocket bounds of one API process: streams per client and in total (1013, "try again later"),
a resume point older than what the log keeps (4410), and catch-ups that many sockets share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_after, read_order
from schema.migrate import migrate
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import (
    RECEIVE_TIMEOUT,
    append_steps,
    closed_with,
    lifecycle_payloads,
    place,
    receive,
    receive_events,
    running_api,
)


@contextlib.asynccontextmanager
async def stream(url: str, api_key: str) -> AsyncIterator[ClientConnection]:
    """A socket on `url` with `api_key` (keys off: ignored, the client is the address)."""
    headers = {"X-API-Key": api_key}
    async with connect(url, additional_headers=headers, open_timeout=RECEIVE_TIMEOUT) as ws:
        yield ws


async def test_a_client_past_its_stream_limit_is_told_to_try_later_and_others_are_not(
    make_settings: MakeSettings,
) -> None:
    alice, bob = "alice-key-0123456789", "bob-key-0123456789"
    settings = make_settings(ws_max_streams_per_client=3, api_keys=f"alice:{alice},bob:{bob}")
    async with running_api(settings) as server:
        url = f"{server.ws_url}/api/orders/stream/all"
        async with contextlib.AsyncExitStack() as held:
            first = [await held.enter_async_context(stream(url, alice)) for _ in range(3)]
            for ws in first:
                assert (await receive(ws))["type"] == "connected"

            async with stream(url, alice) as refused:
                code, reason, messages = await closed_with(refused)
            assert (code, reason) == (1013, "this client has 3 streams open")
            assert [m["code"] for m in messages] == ["TOO_MANY_STREAMS"]

            async with stream(url, bob) as other:
                assert (await receive(other))["type"] == "connected"

            await first[0].close()
            async with stream(url, alice) as again:  # a place was given back
                assert (await receive(again))["type"] == "connected"


async def test_past_the_process_stream_limit_every_client_is_told_to_try_later(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(ws_max_streams=4, ws_max_streams_per_client=100)
    async with running_api(settings) as server:
        url = f"{server.ws_url}/api/orders/stream/all"
        async with contextlib.AsyncExitStack() as held:
            for client_number in range(4):
                ws = await held.enter_async_context(stream(url, f"client-{client_number}"))
                assert (await receive(ws))["type"] == "connected"

            async with stream(url, "newcomer") as refused:
                code, reason, _ = await closed_with(refused)
            assert (code, reason) == (1013, "this server has 4 streams open")

        async with stream(url, "newcomer") as later:
            assert (await receive(later))["type"] == "connected"


async def test_resuming_before_what_the_log_keeps_is_refused_not_served_with_a_gap(
    make_settings: MakeSettings, redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    first, second = await place(appender), await place(appender)
    seen = (await read_order(redis, keys, first))[0].position  # where a client left off
    await append_steps(appender, first, lifecycle_payloads()[:1])
    kept = (await read_order(redis, keys, second))[0].position
    await redis.xtrim(
        keys.events, minid=kept, approximate=False
    )  # the log now starts after what it missed

    async with running_api(make_settings()) as server:
        url = f"{server.ws_url}/api/orders/stream/all"
        async with stream(url + f"?after={seen}", "alice") as ws:
            code, reason, messages = await closed_with(ws)
        assert code == 4410
        assert reason is not None
        assert f"(it starts at {kept})" in reason
        assert [m["code"] for m in messages] == ["POSITION_EXPIRED"]

        async with stream(url + f"?after={kept}", "alice") as ws:
            assert (await receive(ws))["type"] == "connected"
            caught_up = await receive_events(ws, 1)
            third = await place(appender)
            live = await receive_events(ws, 1)
        assert [(m["orderId"], m["sequence"]) for m in caught_up + live] == [
            (str(first), 2),
            (str(third), 1),
        ]


async def test_many_sockets_catching_up_at_once_each_get_the_whole_log_once_in_order(
    make_settings: MakeSettings, redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    for _ in range(60):
        await append_steps(appender, await place(appender), lifecycle_payloads())
    expected = [e.position for e in await read_after(redis, keys, "0-0", 10_000)]  # 480 events
    settings = make_settings(ws_catch_up_slots=2, ws_max_streams_per_client=100)
    migrate(settings.require_database_url())
    async with running_api(settings) as server:
        url = f"{server.ws_url}/api/orders/stream/all?after=0-0"

        async def catch_up() -> list[str]:
            async with stream(url, "alice") as ws:
                assert (await receive(ws))["type"] == "connected"
                return [m["position"] for m in await receive_events(ws, len(expected))]

        sockets = [asyncio.create_task(catch_up()) for _ in range(40)]
        async with httpx.AsyncClient(base_url=server.http_url, timeout=RECEIVE_TIMEOUT) as http:
            listed = await http.get("/api/orders", params={"limit": 1})
        received = await asyncio.gather(*sockets)

    assert listed.status_code == 200  # the API answered while they caught up
    assert all(positions == expected for positions in received)
