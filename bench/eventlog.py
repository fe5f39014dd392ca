"""Benchmarks of the event log: appends per second (one at a time, and pipelined), the pipelined
rate as a fraction of Redis's own XADD rate for entries of the same size, measured in the same
run (`bench.redis_ceiling`), and events per second through the consumer loop with decoding and a
no-op handler (one consumer, and two). `--events` (default 100,000) sets the pipelined appends
and the events consumed; a twentieth of it is appended one at a time.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import Sequence
from typing import Any

from bench.redis_ceiling import xadd_per_second
from bench.redis_servers import delete_keys, url_holding
from bench.scope import scope_tag_prefix
from eventlog.append import AppendRequest, EventAppender
from eventlog.codec import Recorded, encode
from eventlog.connections import redis_client
from eventlog.consumer import Consumer
from eventlog.consumer_config import ConsumerConfig
from eventlog.keys import Keys
from eventlog.settings import Settings
from schema.events import Event, OrderPlaced, new_event

EVENTS = 100_000
PIPELINE_CHUNK = 1_000


def _events(count: int) -> list[Event[OrderPlaced]]:
    from decimal import Decimal

    payload = OrderPlaced(
        order_type="market",
        token_in="SOL",
        token_out="USDC",
        amount_in=Decimal("1.5"),
        slippage=Decimal("0.01"),
    )
    return [new_event(payload, order_id=uuid.uuid4(), sequence=1) for _ in range(count)]


async def _append_single(settings: Settings, keys: Keys, count: int) -> float:
    redis = redis_client(settings)
    appender = EventAppender(redis, keys)
    events = _events(count)
    started = time.perf_counter()
    for event in events:
        await appender.append([event], expected_sequence=0)
    elapsed = time.perf_counter() - started
    await redis.aclose()
    return count / elapsed


async def append_pipelined(settings: Settings, keys: Keys, count: int, writers: int = 4) -> float:
    """Pipelined appends of 1,000 orders a round trip, from `writers` concurrent writers so that
    encoding the next batch overlaps Redis applying the last one."""
    redis = redis_client(settings)
    appender = EventAppender(redis, keys)
    events = _events(count)
    chunks = [events[i : i + PIPELINE_CHUNK] for i in range(0, len(events), PIPELINE_CHUNK)]

    async def writer(mine: list[list[Event[OrderPlaced]]]) -> None:
        for chunk in mine:
            await appender.append_many([AppendRequest([e], 0) for e in chunk])

    started = time.perf_counter()
    await asyncio.gather(*(writer(chunks[w::writers]) for w in range(writers)))
    elapsed = time.perf_counter() - started
    await redis.aclose()
    return count / elapsed


async def _noop(batch: Sequence[Recorded]) -> None:
    return None


async def _consume(settings: Settings, keys: Keys, name: str) -> tuple[int, float, float]:
    redis = redis_client(settings)
    config = ConsumerConfig(group="bench", name=name, batch_size=1_000, block_ms=10)
    consumer = Consumer(redis, keys, config, _noop)
    started = time.perf_counter()
    handled = await consumer.drain()
    finished = time.perf_counter()
    await redis.aclose()
    return handled, started, finished


def _consume_in_process(
    environ: dict[str, str], prefix: str, name: str
) -> tuple[int, float, float]:
    settings = Settings.from_env(environ)
    return asyncio.run(_consume(settings, Keys(prefix, hash_tagged=settings.clustered), name))


def _consumers(settings: Settings, keys: Keys, count: int) -> float:
    """Events per second through `count` consumer processes sharing one group."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(count) as pool:
        results = pool.starmap(
            _consume_in_process,
            [(settings.to_environ(), keys.prefix, f"c{i}") for i in range(count)],
        )
    handled = sum(r[0] for r in results)
    elapsed = max(r[2] for r in results) - min(r[1] for r in results)
    return handled / elapsed


async def _fill(settings: Settings, keys: Keys, count: int) -> None:
    redis = redis_client(settings)
    appender = EventAppender(redis, keys)
    events = _events(count)
    for start in range(0, len(events), PIPELINE_CHUNK):
        chunk = events[start : start + PIPELINE_CHUNK]
        await appender.append_many([AppendRequest([e], 0) for e in chunk])
    await redis.aclose()


def bench_eventlog(settings: Settings, events: int = EVENTS) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    keys = Keys(f"{scope_tag_prefix(settings)}{uuid.uuid4().hex[:8]}", settings.clustered)
    try:
        single = max(1, events // 20)
        figures["appends_per_s_single"] = round(asyncio.run(_append_single(settings, keys, single)))
        delete_keys(settings, keys.prefix)
        pipelined = asyncio.run(append_pipelined(settings, keys, events))
        figures["appends_per_s_pipelined"] = round(pipelined)
        entry = encode(_events(1)[0])
        stream = keys.events + "-xadd"  # in the log's slot: on the same server as the log
        ceiling = asyncio.run(xadd_per_second(url_holding(settings, stream), stream, entry, events))
        figures["xadd_ceiling_per_s"] = round(ceiling)
        figures["xadd_ceiling_entry_bytes"] = sum(len(k) + len(v) for k, v in entry.items())
        figures["appends_pipelined_of_ceiling"] = round(pipelined / ceiling, 2)
        for consumers in (1, 2):
            delete_keys(settings, keys.prefix)
            asyncio.run(_fill(settings, keys, events))
            rate = _consumers(settings, keys, consumers)
            figures[f"consumed_per_s_{consumers}_consumer{'s' if consumers > 1 else ''}"] = round(
                rate
            )
    finally:
        delete_keys(settings, keys.prefix)
    return figures
