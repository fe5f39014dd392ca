"""The execution benchmark: orders executed end to end per second by N processor processes, with
venue latency 0, no failures and the limits lifted, in a key prefix of its own (removed after)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bench.percentile import percentile
from bench.process_readings import cpu_seconds, peak_rss_kib
from bench.scope import child_env, execution_run
from eventlog.append import AppendRequest, EventAppender
from eventlog.connections import redis_client
from eventlog.keys import EXECUTION_GROUP, Keys
from eventlog.settings import Settings
from schema.events import OrderPlaced, new_event

ORDERS = 5_000
PROCESSORS = (1, 2)
TERMINAL = {b"OrderConfirmed", b"OrderFailed"}
# Alternating directions keep the pools near their prices however many orders run.
ORDER_SHAPES = [
    ("SOL", "USDC", Decimal("1")),
    ("USDC", "SOL", Decimal("150")),
    ("SOL", "USDT", Decimal("0.5")),
    ("USDT", "SOL", Decimal("75")),
    ("BONK", "JUP", Decimal("5000000")),
    ("JUP", "BONK", Decimal("130")),
]


async def bench_execution(settings: Settings, orders: int, processors: int) -> dict[str, float]:
    """Start `processors` processor processes, append `orders` OrderPlaced events, and time them
    until every order has its terminal event and the group has consumed the whole log. Returns the
    figures (seconds, orders per second, end-to-end latency percentiles, peak memory)."""
    run = execution_run(settings)
    keys = run.log_keys()
    redis = redis_client(run)
    names = [f"bench-{n}" for n in range(processors)]
    started = [start_processor(run, name) for name in names]
    try:
        await wait_until_ready(redis, keys, names, started)
        start_position = "0-0"
        cpu_before = sum(cpu_seconds(process.pid) for process in started)
        began = time.perf_counter()
        await _place(EventAppender(redis, keys), orders)
        appended = time.perf_counter()
        finished, latencies = await _wait_for_terminals(redis, keys, start_position, orders)
        caught_up = await wait_until_group_caught_up(redis, keys)
        elapsed = caught_up - began
        cpu = sum(cpu_seconds(process.pid) for process in started) - cpu_before
        peaks = [round(peak_rss_kib(process.pid) / 1024, 1) for process in started]
    finally:
        await stop_and_clean(started, redis, run.key_prefix)
    return {
        "orders": float(orders),
        "processors": float(processors),
        "append_seconds": round(appended - began, 3),
        "seconds": round(elapsed, 3),
        "orders_per_second": round(orders / elapsed, 1),
        "orders_per_second_to_last_terminal": round(orders / (finished - began), 1),
        "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "processor_cpu_ms_per_order": round(cpu * 1000 / orders, 3),
        "peak_rss_mb_max": max(peaks),
    }


async def stop_and_clean(
    processes: list[subprocess.Popen[bytes]], redis: Any, key_prefix: str
) -> None:
    """Stop the benchmark's processes (SIGTERM, then SIGKILL after 30 s) and remove its keys."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    async for key in redis.scan_iter(match=f"{key_prefix}:*", count=1000):
        await redis.unlink(key)
    await redis.aclose()


def start_processor(settings: Settings, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "oee", "process", "--name", name],
        env=child_env(settings.to_environ()),
    )


async def wait_until_ready(
    redis: Any, keys: Keys, names: list[str], processes: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + 60
    while not all([await redis.exists(keys.health(EXECUTION_GROUP, name)) for name in names]):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            raise RuntimeError("a benchmark processor did not start")
        await asyncio.sleep(0.05)  # polling the health keys the processors write at start-up


def placement(n: int) -> AppendRequest:
    """The `n`th benchmark order's placement: a market order of the `n`th shape."""
    token_in, token_out, amount = ORDER_SHAPES[n % len(ORDER_SHAPES)]
    payload = OrderPlaced(
        order_type="market",
        token_in=token_in,
        token_out=token_out,
        amount_in=amount,
        slippage=Decimal("0.05"),
    )
    return AppendRequest([new_event(payload, order_id=uuid.uuid4(), sequence=1)], 0)


async def _place(appender: EventAppender, count: int) -> None:
    requests = [placement(n) for n in range(count)]
    for start in range(0, count, 2_000):
        await appender.append_many(requests[start : start + 2_000])


async def _wait_for_terminals(
    redis: Any, keys: Keys, after: str, count: int
) -> tuple[float, list[float]]:
    """Follow the log until `count` orders ended; returns when, and each order's placed-to-ended
    time (from the stream entry ids, which are Redis milliseconds)."""
    placed_at: dict[bytes, int] = {}
    latencies: list[float] = []
    position = after
    deadline = time.monotonic() + max(120.0, count / 50)
    while len(latencies) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(latencies)} of {count} orders ended in time")
        reply: Any = await redis.xread({keys.events: position}, count=10_000, block=1_000)
        for _, entries in reply or []:
            for entry_id, fields in entries:
                position = entry_id
                millis = int(entry_id.split(b"-")[0])
                if fields[b"type"] == b"OrderPlaced":
                    placed_at[fields[b"order_id"]] = millis
                elif fields[b"type"] in TERMINAL:
                    latencies.append((millis - placed_at.get(fields[b"order_id"], millis)) / 1000)
    return time.perf_counter(), latencies


async def wait_until_group_caught_up(redis: Any, keys: Keys) -> float:
    """When the execution group has read and acked every entry, its own events included: the
    cost of executing the orders is only fully paid then."""
    while True:
        groups: Any = await redis.xinfo_groups(keys.events)
        group = next(g for g in groups if g["name"] == EXECUTION_GROUP.encode())
        if group["pending"] == 0 and group.get("lag") == 0:
            return time.perf_counter()
        await asyncio.sleep(0.01)  # polling the group's progress


def bench_execution_suite(
    settings: Settings, orders: int = ORDERS, processors: Sequence[int] = PROCESSORS
) -> dict[str, dict[str, float]]:
    """The `oee bench execution` suite: `orders` orders through each count of processors."""
    return {
        f"{count}_processor{'s' if count > 1 else ''}": asyncio.run(
            bench_execution(settings, orders, count)
        )
        for count in processors
    }
