"""The query endpoints over the read tables, driven over HTTP against real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis

from bench.sample_histories import append_histories, build_histories
from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.settings import Settings
from oee.parts import drain_projections
from oee.wiring import api_app
from schema.events import Event
from schema.statuses import STATUS_AFTER_EVENT
from tests.support.in_process_api import in_process_api
from tests.support.polling import eventually

pytestmark = pytest.mark.on_cluster_too


@pytest.fixture
def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The shared in-process API client (tests/conftest.py)."""
    return api


async def place(client: httpx.AsyncClient, **fields: Any) -> str:
    body = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.25"}
    response = await client.post("/api/orders/execute", json={**body, **fields})
    assert response.status_code == 202, response.text
    order_id: str = response.json()["orderId"]
    return order_id


async def append(redis: aioredis.Redis, keys: Keys, events: list[Event[Any]]) -> None:
    await append_histories(EventAppender(redis, keys), events)


async def test_an_order_is_found_right_after_it_was_placed_and_reads_the_same_once_projected(
    client: httpx.AsyncClient, migrated: Settings
) -> None:
    order_id = await place(client, amountIn="0.000001")
    early = await client.get(f"/api/orders/{order_id}")
    assert early.status_code == 200, early.text
    assert early.json()["order"]["status"] == "pending"
    assert early.json()["order"]["amountIn"] == "0.000001"
    early_events = (await client.get(f"/api/orders/{order_id}/events")).json()

    await drain_projections(migrated)
    projected = (await client.get(f"/api/orders/{order_id}")).json()
    assert projected["order"]["position"] is not None
    assert projected["order"] == early.json()["order"]
    assert (await client.get(f"/api/orders/{order_id}/events")).json() == early_events
    assert [e["type"] for e in early_events["events"]] == ["OrderPlaced"]


@pytest.mark.parametrize("order_id", [str(uuid.UUID(int=7)), "not-an-id", "1234"])
async def test_unknown_or_malformed_order_ids_are_404(
    client: httpx.AsyncClient, order_id: str
) -> None:
    for path in (f"/api/orders/{order_id}", f"/api/orders/{order_id}/events"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["success"] is False
        assert response.json()["code"] == "ORDER_NOT_FOUND"


async def test_an_orders_events_come_in_sequence_order_with_the_status_after_each(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    events = build_histories(30, seed=8)
    await append(redis, keys, events)
    retried = next(e.order_id for e in events if e.type == "AttemptFailed")
    from_log = (await client.get(f"/api/orders/{retried}/events")).json()
    await drain_projections(migrated)
    from_table = (await client.get(f"/api/orders/{retried}/events")).json()
    assert from_table == from_log
    answer = from_table["events"]
    assert [e["sequence"] for e in answer] == list(range(1, len(answer) + 1))
    failed = next(e for e in answer if e["type"] == "AttemptFailed")
    assert failed["status"] == "routing"
    assert failed["data"]["errorCode"] == "TX_FAILED_TO_LAND"
    selected = next(e for e in answer if e["type"] == "RouteSelected")
    assert isinstance(selected["data"]["chosen"]["amountOut"], str)
    assert answer[-1]["status"] in ("confirmed", "failed")

    order = (await client.get(f"/api/orders/{retried}")).json()["order"]
    assert order["attempts"] >= 2
    assert order["position"] == answer[-1]["position"]


async def test_pagination_visits_every_order_exactly_once_while_orders_keep_arriving(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    await append(redis, keys, build_histories(240, seed=9))
    await drain_projections(migrated)
    before = {
        o["id"] for o in (await client.get("/api/orders", params={"limit": 500})).json()["orders"]
    }
    assert len(before) == 240

    visited: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 17, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/orders", params=params)).json()
        visited += [o["id"] for o in page["orders"]]
        created = [o["createdAt"] for o in page["orders"]]
        assert created == sorted(created, reverse=True)
        pages += 1
        # New orders arrive (and are projected) between every two pages.
        await append(redis, keys, build_histories(5, seed=100 + pages, start=datetime.now(UTC)))
        await drain_projections(migrated)
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(visited) == len(set(visited)), "an order was listed twice"
    assert set(visited) == before
    assert pages == 15


async def test_filters_select_matching_orders_and_bad_values_are_400(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    events = build_histories(150, seed=10)
    await append(redis, keys, events)
    await drain_projections(migrated)
    everything = (await client.get("/api/orders", params={"limit": 500})).json()["orders"]
    for params in (
        {"status": "confirmed"},
        {"status": "failed", "tokenIn": "SOL"},
        {"tokenIn": "USDC", "tokenOut": "SOL"},
        {"tokenOut": "BONK"},
    ):
        found = (await client.get("/api/orders", params={**params, "limit": 500})).json()
        expected = [
            o for o in everything if all(o[name] == value for name, value in params.items())
        ]
        assert expected, params
        assert found["orders"] == expected
        assert found["nextCursor"] is None

    for params in (
        {"status": "done"},
        {"tokenIn": "DOGE!"},
        {"tokenOut": ""},
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "ten"},
        {"limit": "\u00b2"},  # a superscript two: a digit to Unicode, not a number
        {"limit": "9" * 5_000},
        {"cursor": "garbage!"},
        {"cursor": "WzEsMl0"},
    ):
        response = await client.get("/api/orders", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["code"] in ("INVALID_QUERY", "INVALID_CURSOR")


async def test_concurrent_reads_of_many_orders_each_get_their_own_order(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    """GETs that arrive together share one query; every caller still gets exactly its order,
    repeated ids included, and an unknown id among them is still a 404."""
    events = build_histories(60, seed=12)
    await append(redis, keys, events)
    await drain_projections(migrated)
    ids = sorted({str(e.order_id) for e in events})
    asked = [*ids, *ids[:10], str(uuid.UUID(int=9))]
    answers = await asyncio.gather(*(client.get(f"/api/orders/{i}") for i in asked))
    assert [a.status_code for a in answers] == [200] * (len(asked) - 1) + [404]
    assert [a.json()["order"]["id"] for a in answers[:-1]] == asked[:-1]
    assert all(a.json()["order"]["position"] is not None for a in answers[:-1])


def _ended_and_in_flight(events: list[Event[Any]]) -> tuple[uuid.UUID, uuid.UUID, Event[Any]]:
    """An order whose history ends, one in flight, and the event that would take it on."""
    last = {e.order_id: e for e in events}
    ended = next(i for i, e in last.items() if e.type in {"OrderConfirmed", "OrderFailed"})
    flying = next(e for e in events if e.type == "RoutingStarted").order_id
    cut = next(e for e in events if e.order_id == flying and e.type == "RouteSelected")
    return ended, flying, cut


async def _get(client: httpx.AsyncClient, order_id: uuid.UUID) -> dict[str, Any]:
    answer = await client.get(f"/api/orders/{order_id}")
    assert answer.status_code == 200, answer.text
    order: dict[str, Any] = answer.json()["order"]
    return order


def _double_amounts(settings: Settings) -> None:
    """Change every projected row behind the API's back: an answer that does not change was not
    read from the table."""
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        conn.execute("UPDATE orders SET amount_in = amount_in * 2")


async def test_orders_placed_before_the_api_started_are_read_from_the_table_until_they_end(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    events = build_histories(40, seed=12)
    ended, flying, cut = _ended_and_in_flight(events)
    kept = [
        e
        for e in events
        if e.order_id == ended or (e.order_id == flying and e.sequence < cut.sequence)
    ]
    await append(redis, keys, kept)
    await drain_projections(migrated)
    async with in_process_api(migrated) as client:  # its relay starts after these events
        first = {o: await _get(client, o) for o in (ended, flying)}
        assert first[flying]["status"] == "routing"
        _double_amounts(migrated)
        again = {o: await _get(client, o) for o in (ended, flying)}
    assert again[ended] == first[ended]  # ended: nothing can change it, served as it was
    doubled = Decimal(first[flying]["amountIn"]) * 2
    assert Decimal(again[flying]["amountIn"]) == doubled  # in flight: read fresh


async def test_an_order_followed_from_its_placement_is_answered_from_memory_as_events_arrive(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    events = build_histories(40, seed=12)
    _, flying, cut = _ended_and_in_flight(events)
    history = [e for e in events if e.order_id == flying]
    await append(redis, keys, [e for e in history if e.sequence < cut.sequence])

    async def status_is(status: str) -> dict[str, Any] | None:
        order = await _get(client, flying)
        return order if order["status"] == status else None

    live = await eventually(lambda: status_is("routing"), what="the order routing")
    await drain_projections(migrated)
    live_bytes = (await client.get(f"/api/orders/{flying}")).content
    async with in_process_api(migrated) as fresh:  # answers from the table: the same bytes
        assert (await fresh.get(f"/api/orders/{flying}")).content == live_bytes

    _double_amounts(migrated)
    assert await _get(client, flying) == live  # not read from the table
    await append(redis, keys, [e for e in history if e.sequence >= cut.sequence])
    last_status = STATUS_AFTER_EVENT[history[-1].type].value
    latest = await eventually(lambda: status_is(last_status), what="its last event")
    assert latest["amountIn"] == live["amountIn"]
    assert latest["position"] != live["position"]
    await drain_projections(migrated)
    assert latest["quotes"]  # nested objects: jsonb keeps their keys in an order of its own
    latest_bytes = (await client.get(f"/api/orders/{flying}")).content
    async with in_process_api(migrated) as fresh:
        assert (await fresh.get(f"/api/orders/{flying}")).content == latest_bytes
    _double_amounts(migrated)  # the projected row caught up, then changed again: not read
    assert await _get(client, flying) == latest


async def test_once_memory_stops_answering_a_row_behind_what_was_shown_is_not_served(
    migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    """The relay stalls (its listeners failing does not stop it; stopping it does): the order
    is then read from the table, unless the row is behind what this process showed, and then
    from the log."""
    events = build_histories(40, seed=12)
    _, flying, cut = _ended_and_in_flight(events)
    early = [e for e in events if e.order_id == flying and e.sequence < cut.sequence]
    app = api_app(migrated)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        relay = app.state.resources.relay

        def failing(recorded: object) -> None:
            raise RuntimeError("a read model's fault")

        relay.listen(failing)
        await append(redis, keys, early)

        async def routing() -> dict[str, Any] | None:
            order = await _get(client, flying)
            return order if order["status"] == "routing" else None

        shown = await eventually(routing, what="the order followed to routing")
        assert relay.running  # every entry made the failing listener raise
        await drain_projections(migrated)
        with psycopg.connect(migrated.require_database_url(), autocommit=True) as conn:
            conn.execute("UPDATE orders SET sequence = 1, status = 'pending'")  # a row behind
        await relay.stop()  # memory no longer answers
        assert await _get(client, flying) == shown  # from the log, not the stale row
