"""The bounded log: with a short retention and orders flowing, the stream stays short while every
order stays readable in full, through every read (GET, its events, the per-order and the global
WebSocket, replay), from the archive where Redis no longer holds its events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis

from bench.snapshot import snapshot
from eventlog.codec import position_key
from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.parts import run_processor, run_projectors, run_replay
from projections.orders_projection import OrdersProjection
from tests.support.archive_reads import archived
from tests.support.polling import eventually
from tests.support.resting import quiet_market
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import client, receive, receive_events, running_api

pytestmark = pytest.mark.on_cluster_too

MARKET = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.5"}
WAVES, PER_WAVE = 4, 15


@contextlib.asynccontextmanager
async def engine_parts(settings: Settings) -> AsyncIterator[None]:
    """A processor and a projector (which archives and trims) in this process."""
    stop = asyncio.Event()
    parts = [
        asyncio.create_task(run_processor(settings, stop, name="processor")),
        asyncio.create_task(run_projectors(settings, stop, name="projector")),
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*parts)


async def place_and_finish(api: httpx.AsyncClient, body: dict[str, Any], count: int) -> list[str]:
    ids = []
    for _ in range(count):
        answer = await api.post("/api/orders/execute", json=body)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["orderId"])

    async def all_confirmed() -> bool:
        for order_id in ids:
            found = (await api.get(f"/api/orders/{order_id}")).json()
            if found["order"]["status"] != "confirmed":
                return False
        return True

    await eventually(all_confirmed, within=30, what="the wave's orders confirmed")
    return ids


def archived_by_order(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    by_order: dict[str, list[tuple[str, str]]] = {}
    for position, order_id, kind, _ in archived(settings):
        by_order.setdefault(order_id, []).append((position, kind))
    return by_order


async def test_a_short_retention_keeps_the_stream_short_and_every_order_readable_in_full(
    make_settings: MakeSettings, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    settings = quiet_market(make_settings, log_retention_seconds=1)
    orders: list[str] = []
    async with (
        contextlib.AsyncExitStack() as stack,
        running_api(settings) as server,
        engine_parts(settings),
    ):
        api = await stack.enter_async_context(httpx.AsyncClient(base_url=server.http_url))
        resting = await api.post(
            "/api/orders/execute", json={**MARKET, "orderType": "limit", "limitPrice": "10000"}
        )
        assert resting.status_code == 202
        limit_id = resting.json()["orderId"]
        lengths = []
        for _ in range(WAVES):
            orders += await place_and_finish(api, MARKET, PER_WAVE)
            wave_end = orders[-1]

            async def trimmed_past(order_id: str = wave_end) -> bool:
                kept = keys.order_positions(order_id), keys.submission(order_id)
                return not await redis.exists(*kept)

            # Retention passed, archived, every group acked: the wave leaves Redis.
            await eventually(trimmed_past, within=30, what="the wave trimmed from Redis")
            lengths.append(int(await redis.xlen(keys.events)))
        added = int((await redis.xinfo_stream(keys.events))["entries-added"])
        assert max(lengths) < added / 2, (lengths, added)  # bounded by the rate, not history

        archive = archived_by_order(settings)
        for order_id in orders:
            got = (await api.get(f"/api/orders/{order_id}")).json()
            assert got["order"]["status"] == "confirmed"
            events = (await api.get(f"/api/orders/{order_id}/events")).json()["events"]
            assert [(e["position"], e["type"]) for e in events] == archive[order_id]
            assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))

        old = orders[0]  # trimmed long ago, its position list gone: history from the archive
        async with client(f"{server.ws_url}/api/orders/{old}/stream") as ws:
            assert (await receive(ws))["type"] == "connected"
            streamed = await receive_events(ws, len(archive[old]))
        assert [(m["position"], m["event"]) for m in streamed] == archive[old]

        # The global stream from the start: the archive, then what Redis still holds.
        everything = [(p, kind) for p, _, kind, _ in archived(settings)]
        async with client(f"{server.ws_url}/api/orders/stream/all?after=0") as ws:
            assert (await receive(ws))["type"] == "connected"
            replayed = await receive_events(ws, len(everything))
        assert [(m["position"], m["event"]) for m in replayed] == everything

        # An order resting since before the trim: its OrderPlaced is only in the archive.
        head: Any = await redis.xrange(keys.events, count=1)
        placed_at = position_key(archive[limit_id][0][0])
        assert not head or position_key(head[0][0].decode()) > placed_at
        cancelled = await api.post(f"/api/orders/{limit_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text

        async def limit_cancelled() -> bool:
            found = (await api.get(f"/api/orders/{limit_id}")).json()
            return bool(found["order"]["status"] == "cancelled")

        await eventually(limit_cancelled, within=30, what="the resting order cancelled")

    url = migrated.require_database_url()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        live = await snapshot(conn, OrdersProjection.tables)
    result = await run_replay(settings, progress=False, chunk=100)
    ever = int((await redis.xinfo_stream(keys.events))["entries-added"])
    assert result["events"] == ever > added  # all of them: the archive's, then Redis's
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await snapshot(conn, OrdersProjection.tables) == live
