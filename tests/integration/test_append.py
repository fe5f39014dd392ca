"""Appends with an expected sequence: atomic, one winner per sequence, gap-free histories."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from eventlog.append import AppendRequest, Claim, ClaimTaken, ConcurrencyError, EventAppender
from eventlog.connections import redis_client
from eventlog.keys import Keys
from eventlog.reading import read_after, read_order
from eventlog.settings import Settings
from schema.events import Event
from tests.support.factories import order_placed, routing_started

pytestmark = pytest.mark.on_cluster_too


async def test_two_writers_racing_for_the_same_sequence_have_exactly_one_winner(
    redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    other = redis_client(settings)  # a second connection, as a second writer process would have
    first, second = EventAppender(redis, keys), EventAppender(other, keys)
    order_id = uuid.uuid4()
    await first.append([order_placed(order_id)], expected_sequence=0)
    try:
        for sequence in range(1, 101):
            results = await asyncio.gather(
                first.append([routing_started(order_id, sequence + 1)], expected_sequence=sequence),
                second.append(
                    [routing_started(order_id, sequence + 1)], expected_sequence=sequence
                ),
                return_exceptions=True,
            )
            winners = [r for r in results if isinstance(r, list)]
            losers = [r for r in results if isinstance(r, ConcurrencyError)]
            assert len(winners) == 1, results
            assert len(losers) == 1, results
            assert losers[0].actual == sequence + 1
    finally:
        await other.aclose()
    history = await read_order(redis, keys, order_id)
    assert [r.event.sequence for r in history] == list(range(1, 102))
    positions = [r.position for r in history]
    assert positions == sorted(positions, key=lambda p: tuple(map(int, p.split("-"))))


async def test_a_stale_expected_sequence_is_refused_with_the_order_and_sequences(
    redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    order_id = uuid.uuid4()
    await appender.append([order_placed(order_id)], expected_sequence=0)
    with pytest.raises(ConcurrencyError) as caught:
        await appender.append([order_placed(order_id)], expected_sequence=0)
    assert str(order_id) in str(caught.value)
    assert "expected to append after sequence 0" in str(caught.value)
    assert "at sequence 1" in str(caught.value)
    assert len(await read_order(redis, keys, order_id)) == 1


async def test_several_events_of_one_order_land_together_in_order(
    redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    order_id = uuid.uuid4()
    events: list[Event[Any]] = [
        order_placed(order_id),
        routing_started(order_id, 2),
        routing_started(order_id, 3, 2),
    ]
    positions = await appender.append(events, expected_sequence=0)
    assert isinstance(positions, list)
    assert len(positions) == 3
    read = await read_after(redis, keys, "0")
    assert [r.event for r in read] == events
    assert [r.position for r in read] == positions


async def test_a_claimed_append_happens_once_and_reports_the_claim_after(
    redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    claim = Claim(keys.idempotency("client", "key-1"), b"first", ttl_seconds=60)
    first = await appender.append([order_placed()], expected_sequence=0, claim=claim)
    second = await appender.append([order_placed()], expected_sequence=0, claim=claim)
    assert isinstance(first, list)
    assert second == ClaimTaken(b"first")
    assert len(await read_after(redis, keys, "0")) == 1


async def test_pipelined_appends_report_each_order_on_its_own(
    redis: aioredis.Redis, keys: Keys
) -> None:
    appender = EventAppender(redis, keys)
    taken = uuid.uuid4()
    await appender.append([order_placed(taken)], expected_sequence=0)
    fresh = [order_placed() for _ in range(5)]
    requests = [AppendRequest([e], 0) for e in fresh] + [AppendRequest([order_placed(taken)], 0)]
    results = await appender.append_many(requests)
    assert all(isinstance(r, list) for r in results[:5])
    assert isinstance(results[5], ConcurrencyError)
    assert len(await read_after(redis, keys, "0")) == 6
