"""What the chaos run checks once the engine is quiet, reading the log straight from Redis: every
accepted order is in the log and ended exactly once (at most one fill), no entry is pending in any
group, the read model agrees with the log, and a replay rebuilds the very tables live built."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis

from bench.snapshot import snapshot
from eventlog.keys import Keys
from projections.orders_projection import OrdersProjection
from schema.events import VENUE_EVENT_TYPES
from schema.statuses import STATUS_AFTER_EVENT, TERMINAL_STATUSES

TERMINAL_EVENTS = frozenset(t for t, s in STATUS_AFTER_EVENT.items() if s in TERMINAL_STATUSES)
PAGE = 5_000


def log_timelines(redis_url: str, keys: Keys) -> dict[str, list[str]]:
    """Each order's event types in log order, read page by page with XRANGE (venue events, which
    are no order's, left out)."""
    timelines: dict[str, list[str]] = defaultdict(list)
    client = redis.Redis.from_url(redis_url)
    try:
        after = "-"
        while True:
            page: Any = client.xrange(keys.events, min=after, max="+", count=PAGE)
            for _, fields in page:
                kind = fields[b"type"].decode()
                if kind not in VENUE_EVENT_TYPES:
                    timelines[fields[b"order_id"].decode()].append(kind)
            if len(page) < PAGE:
                return timelines
            after = "(" + page[-1][0].decode()
    finally:
        client.close()


def unfinished(timelines: dict[str, list[str]], accepted: set[str]) -> set[str]:
    """Accepted orders not (yet) ended in the log, missing ones included."""
    return {o for o in accepted if not TERMINAL_EVENTS & set(timelines.get(o, ()))}


def pending_entries(redis_url: str, keys: Keys) -> dict[str, int]:
    """Entries delivered and not acknowledged, and (for groups that report it) not yet delivered,
    per consumer group of the log."""
    client = redis.Redis.from_url(redis_url)
    try:
        groups: Any = client.xinfo_groups(keys.events)
    finally:
        client.close()
    return {g["name"].decode(): int(g["pending"]) + int(g.get("lag") or 0) for g in groups}


@dataclass
class LogVerdict:
    lost: list[str] = field(default_factory=list)  # accepted, not in the log
    unended: list[str] = field(default_factory=list)  # in the log, no terminal event
    ended_twice: list[str] = field(default_factory=list)  # more than one terminal event
    filled_twice: list[str] = field(default_factory=list)  # more than one OrderConfirmed
    unasked: list[str] = field(default_factory=list)  # placed in the log, accepted by no answer
    outcomes: Counter[str] = field(default_factory=Counter)  # terminal event type -> orders


def judge_log(timelines: dict[str, list[str]], accepted: set[str]) -> LogVerdict:
    verdict = LogVerdict()
    for order_id in sorted(accepted):
        kinds = timelines.get(order_id)
        if not kinds or kinds[0] != "OrderPlaced":
            verdict.lost.append(order_id)
            continue
        ends = [k for k in kinds if k in TERMINAL_EVENTS]
        if not ends:
            verdict.unended.append(order_id)
        if len(ends) > 1:
            verdict.ended_twice.append(order_id)
        if kinds.count("OrderConfirmed") > 1:
            verdict.filled_twice.append(order_id)
        if ends:
            verdict.outcomes[ends[0]] += 1
    # A placement retried after its first attempt was accepted but not answered must not have
    # become a second order.
    verdict.unasked = sorted(o for o in timelines if o not in accepted)
    return verdict


def read_model_disagreements(
    database_url: str, timelines: dict[str, list[str]], accepted: set[str]
) -> list[str]:
    """Accepted orders whose row in `orders` is missing or has a status other than the log's."""
    with psycopg.connect(database_url) as conn:
        rows: dict[str, str] = dict(conn.execute("SELECT id::text, status FROM orders").fetchall())
    wrong = []
    for order_id in sorted(accepted):
        kinds = timelines.get(order_id) or []
        logged = STATUS_AFTER_EVENT[kinds[-1]] if kinds else None
        if rows.get(order_id) != logged:
            wrong.append(order_id)
    return wrong


async def read_tables(database_url: str) -> dict[str, list[Any]]:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await snapshot(conn, OrdersProjection.tables)


def run_replay(env: dict[str, str]) -> tuple[float, str]:
    """`oee replay` in the run's environment: its seconds and its report; raises on failure."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "oee", "replay"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"oee replay exited with {done.returncode}: {done.stderr[-2000:]}")
    return round(time.monotonic() - began, 3), done.stdout.strip()
