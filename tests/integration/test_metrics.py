"""`GET /api/metrics` and `GET /metrics`: figures that add up, queue figures from the stream."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from bench.sample_histories import append_histories, build_histories
from eventlog.append import EventAppender
from eventlog.keys import EXECUTION_GROUP, Keys
from eventlog.settings import Settings
from oee.parts import drain_projections
from schema.events import (
    AttemptFailed,
    Event,
    OrderPlaced,
    RoutingStarted,
    new_event,
)
from schema.order_state import fold
from tests.support.in_process_api import in_process_api

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
    assert set(orders) == {*STATUSES, "total"}
    assert sum(orders[s] for s in STATUSES) == orders["total"] == 203

    by_order: dict[uuid.UUID, list[Event[Any]]] = {}
    for event in events:
        by_order.setdefault(event.order_id, []).append(event)
    states = [fold(history) for history in by_order.values()]
    statuses = Counter(state.status.value for state in states if state is not None)
    assert sum(statuses.values()) == len(by_order)
    assert {s: orders[s] for s in STATUSES} == {s: statuses.get(s, 0) for s in STATUSES}

    queue = body["queue"]
    assert queue["completed"] == statuses["confirmed"]
    assert queue["failed"] == statuses["failed"]
    assert queue["delayed"] == 3
    # No processor has read anything: the whole log is waiting, nothing is active.
    assert queue["waiting"] == len(events)
    assert queue["active"] == 0
    latency = body["latency"]["acceptToConfirmedMs"]
    assert latency["count"] == statuses["confirmed"]
    assert 0 < latency["p50"] <= latency["p99"]
    assert body["throughput"]["ordersPerMinute"] >= 0
    assert body["timestamp"].endswith("Z")


async def test_queue_figures_come_from_the_execution_group(
    client: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    await append_histories(EventAppender(redis, keys), build_histories(20, seed=13))
    total = await redis.xlen(keys.events)
    await redis.xgroup_create(keys.events, EXECUTION_GROUP, id="0")
    await redis.xreadgroup(EXECUTION_GROUP, "worker", {keys.events: ">"}, count=15)
    reply = await redis.xreadgroup(EXECUTION_GROUP, "worker", {keys.events: ">"}, count=4)
    assert isinstance(reply, list)  # RESP2 answers a list of [stream, entries] pairs
    [[_, delivered]] = reply
    await redis.xack(keys.events, EXECUTION_GROUP, *[position for position, _ in delivered])

    queue = (await client.get("/api/metrics")).json()["queue"]
    assert queue["active"] == 15  # delivered, not acked
    assert queue["waiting"] == total - 19  # not yet delivered to the group


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
