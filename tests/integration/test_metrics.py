"""`GET /api/metrics` and `GET /metrics`: figures that add up, queue figures counted in orders."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from bench.sample_histories import append_histories, build_histories
from eventlog.append import EventAppender
from eventlog.consumer_health import publish_heartbeat
from eventlog.keys import EXECUTION_GROUP, Keys
from eventlog.settings import Settings
from oee.parts import drain_projections
from schema.events import (
    AttemptFailed,
    Event,
    OrderFailed,
    OrderPlaced,
    Payload,
    RoutingStarted,
    new_event,
)
from schema.order_state import fold
from tests.support.factories import order_placed
from tests.support.in_process_api import in_process_api
from tests.support.websocket_harness import lifecycle_payloads

pytestmark = pytest.mark.on_cluster_too

STATUSES = (
    "pending",
    "open",
    "routing",
    "building",
    "submitted",
    "confirmed",
    "failed",
    "cancelled",
    "expired",
)


@pytest.fixture
def client(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """The shared in-process API client (tests/conftest.py)."""
    return api


def waiting_for_retry(order_id: uuid.UUID) -> list[Event[Any]]:
    """An order whose first attempt failed and whose retry has not started yet."""
    placed = OrderPlaced(
        order_type="market",
        token_in="SOL",
        token_out="USDC",
        amount_in=Decimal(2),
        slippage=Decimal("0.01"),
    )
    failed = AttemptFailed(
        attempt=1, error_code="QUOTE_EXPIRED", error_message="stale quote", retry_delay_ms=500
    )
    return [
        new_event(payload, order_id=order_id, sequence=sequence)
        for sequence, payload in enumerate([placed, RoutingStarted(attempt=1), failed], start=1)
    ]


async def test_order_figures_add_up_to_the_total_and_match_the_log(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    now = datetime.now(UTC)
    events = build_histories(200, seed=12, start=now)
    retrying = [waiting_for_retry(uuid.uuid4()) for _ in range(3)]
    events += [e for history in retrying for e in history]
    await append_histories(EventAppender(redis, keys), events)
    await drain_projections(migrated)

    body = (await client.get("/api/metrics")).json()
    assert body["success"] is True
    orders = body["orders"]
    assert set(orders) == {*STATUSES, "total", "processing", "completed"}
    assert sum(orders[s] for s in STATUSES) == orders["total"] == 203

    by_order: dict[uuid.UUID, list[Event[Any]]] = {}
    for event in events:
        by_order.setdefault(event.order_id, []).append(event)
    states = [fold(history) for history in by_order.values()]
    statuses = Counter(state.status.value for state in states if state is not None)
    assert sum(statuses.values()) == len(by_order)
    assert {s: orders[s] for s in STATUSES} == {s: statuses.get(s, 0) for s in STATUSES}

    in_flight = sum(statuses.get(s, 0) for s in ("routing", "building", "submitted"))
    assert orders["processing"] == in_flight
    assert orders["completed"] == statuses["confirmed"]
    queue = body["queue"]
    assert queue["waiting"] == statuses.get("pending", 0)
    assert queue["active"] == in_flight - 3
    assert queue["completed"] == statuses["confirmed"]
    assert queue["failed"] == statuses["failed"]
    assert queue["delayed"] == 3
    latency = body["latency"]["acceptToConfirmedMs"]
    assert latency["count"] == statuses["confirmed"]
    assert 0 < latency["p50"] <= latency["p99"]
    assert body["throughput"]["ordersPerMinute"] >= 0
    assert body["timestamp"].endswith("Z")


def history(payloads: Sequence[Payload]) -> list[Event[Any]]:
    """One order: OrderPlaced, then `payloads` as its next events."""
    placed = order_placed()
    return [placed] + [
        new_event(payload, order_id=placed.order_id, sequence=sequence)
        for sequence, payload in enumerate(payloads, start=2)
    ]


async def test_queue_and_seed_order_figures_count_orders_not_log_entries(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    steps = lifecycle_payloads()  # routing, retry, routing again, building, …, confirmed
    failed = OrderFailed(attempts=1, error_code="NO_ROUTE", error_message="no route")
    orders = {
        "pending": [history([]) for _ in range(4)],
        "routing": [history(steps[:1]), history(steps[:3])],
        "awaiting retry": [history(steps[:2]) for _ in range(3)],
        "building": [history(steps[:4]), history(steps[:5])],
        "submitted": [history(steps[:6])],
        "confirmed": [history(steps) for _ in range(2)],
        "failed": [history([steps[0], failed])],
    }
    events = [e for histories in orders.values() for h in histories for e in h]
    await append_histories(EventAppender(redis, keys), events)
    await drain_projections(migrated)
    # Another group has read the whole log: the figures must not depend on any group's progress.
    await redis.xgroup_create(keys.events, EXECUTION_GROUP, id="0")
    await redis.xreadgroup(EXECUTION_GROUP, "worker", {keys.events: ">"}, count=5)

    body = (await client.get("/api/metrics")).json()
    assert len(events) > 40  # far more log entries than orders
    assert body["queue"] == {
        "waiting": 4,  # pending: no processor has started routing them
        "active": 5,  # 2 routing + 2 building + 1 submitted
        "delayed": 3,  # back in routing after a failed attempt, retry not started
        "completed": 2,
        "failed": 1,
    }
    figures = body["orders"]
    assert figures["pending"] == 4
    assert figures["processing"] == 8  # routing (retries included), building, submitted
    assert figures["completed"] == figures["confirmed"] == 2
    assert figures["total"] == sum(len(h) for h in orders.values()) == 15

    document = (await client.get("/openapi.json")).json()
    ok = document["paths"]["/api/metrics"]["get"]["responses"]["200"]
    name = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    described = document["components"]["schemas"][name]["properties"]
    assert set(described["queue"]["required"]) == set(body["queue"])
    assert set(described["orders"]["required"]) == set(figures)


async def test_prometheus_text_has_the_same_figures_and_two_apps_can_share_a_process(
    client: httpx.AsyncClient, migrated: Settings, redis: aioredis.Redis, keys: Keys
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(120, seed=14))
    await drain_projections(migrated)
    figures = (await client.get("/api/metrics")).json()

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    by_status = {s.labels["status"]: s.value for s in families["oee_orders"].samples}
    assert by_status == {s: float(figures["orders"][s]) for s in STATUSES}
    placed = sum(
        s.value for s in families["oee_orders_placed"].samples if s.name.endswith("_total")
    )
    assert placed == 120
    histogram = {
        s.name: s
        for s in families["oee_accept_to_confirmed_seconds"].samples
        if not s.labels.get("le") or s.labels["le"] == "+Inf"
    }
    assert (
        histogram["oee_accept_to_confirmed_seconds_count"].value == figures["orders"]["confirmed"]
    )
    assert histogram["oee_accept_to_confirmed_seconds_sum"].value > 0

    async with in_process_api(migrated) as http:  # a second app in this process
        again = await http.get("/metrics")
    assert again.status_code == 200
    assert "oee_orders{" in again.text


async def test_consumer_counts_are_of_consumers_alive_now(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    await redis.xgroup_create(keys.events, EXECUTION_GROUP, id="0", mkstream=True)
    for gone in ("crashed-1", "crashed-2"):  # read once, then died: Redis keeps their names
        await redis.xreadgroup(EXECUTION_GROUP, gone, {keys.events: ">"}, count=1)
    await publish_heartbeat(redis, keys, EXECUTION_GROUP, "alive", ttl_seconds=60)
    figures = (await api.get("/api/metrics")).json()["consumerGroups"][EXECUTION_GROUP]
    assert figures["consumers"] == 1
