"""A real order, run by the real processor, watched live over WebSocket from pending to fill."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.wiring import execution_processor
from processors.errors import ErrorCode
from schema.statuses import ALLOWED_TRANSITIONS, OrderStatus
from tests.support.failure_scripts import FailureScript
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import (
    client,
    closed_with,
    receive,
    receive_events,
    running_api,
)

ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5"}


@pytest.fixture
def live_settings(make_settings: MakeSettings) -> Settings:
    settings: Settings = make_settings(max_orders_per_minute=0, ws_close_after_terminal_ms=100)
    return settings


@pytest.fixture
async def processors(live_settings: Settings, redis: aioredis.Redis) -> AsyncIterator[None]:
    processor = execution_processor(redis, live_settings, name="ws-e2e")
    await processor.prepare()
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def until_terminal(ws: Any, order_id: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["status"] not in {"confirmed", "failed"}:
        seen += [m for m in await receive_events(ws, 1) if m["orderId"] == order_id]
    return seen


async def test_an_order_is_watched_live_from_pending_to_confirmed_with_its_retry(
    live_settings: Settings, redis: aioredis.Redis, keys: Keys, processors: None
) -> None:
    # The first swap attempt fails with a transient error, so the order is retried once.
    await FailureScript(redis, keys).fail_next(ErrorCode.TX_FAILED_TO_LAND)
    async with (
        running_api(live_settings) as server,
        client(f"{server.ws_url}/api/orders/stream/all") as watcher,
        httpx.AsyncClient(base_url=server.http_url) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        await receive(watcher)
        placed = (await http.post("/api/orders/execute", json=ORDER)).json()
        order_id = placed["orderId"]
        # A client that follows the link in the POST answer, as the seed's dashboard does.
        follower = await stack.enter_async_context(client(server.ws_url + placed["websocketUrl"]))
        assert (await receive(follower))["type"] == "connected"

        watched = await until_terminal(watcher, order_id)
        followed = await until_terminal(follower, order_id)
        code, reason, _ = await closed_with(follower)

    assert watched == followed
    statuses = [OrderStatus(m["status"]) for m in watched]
    assert statuses[0] == OrderStatus.PENDING
    assert statuses[-1] == OrderStatus.CONFIRMED
    for before, after in zip([None, *statuses], statuses, strict=False):
        assert after in ALLOWED_TRANSITIONS[before], (before, after)
    retries = [m for m in watched if m["type"] == "retry"]
    assert [(m["attempt"], m["errorCode"]) for m in retries] == [(1, "TX_FAILED_TO_LAND")]
    assert [m["sequence"] for m in watched] == list(range(1, len(watched) + 1))
    assert watched[-1]["data"]["txHash"]
    assert (code, reason) == (1000, "order finished")
