"""What the metrics endpoints report, read in one go: counters from the read tables (the order and
queue figures come from them), latency over a recent window, and the stream's length and groups.
Reads only; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from api.resources import Resources
from eventlog.consumer_health import group_statuses
from eventlog.trim_point import TrimPoint, trim_point

LATENCY_WINDOW_SECONDS = 300

# Counter names, as the orders projection writes them into `metric_counters`.
ORDERS_IN_STATUS = "orders_in_status"
ORDERS_AWAITING_RETRY = "orders_awaiting_retry"
LATENCY_BUCKET = "accept_to_confirmed_ms_bucket"
LATENCY_SUM = "accept_to_confirmed_ms_sum"

_LATENCY = """
SELECT
    percentile_cont(0.5) WITHIN GROUP (ORDER BY elapsed_ms) AS p50,
    percentile_cont(0.99) WITHIN GROUP (ORDER BY elapsed_ms) AS p99,
    count(*) AS confirmed,
    count(*) FILTER (WHERE confirmed_at >= now() - interval '60 seconds') AS last_minute
FROM (
    SELECT confirmed_at, extract(epoch FROM confirmed_at - created_at) * 1000 AS elapsed_ms
    FROM orders WHERE confirmed_at >= now() - make_interval(secs => %s) {client}
) AS recent
"""
# The newest position the archive holds (each partition's primary key, merged: no scan).
_ARCHIVED_THROUGH = (
    "SELECT position_ms, position_seq FROM event_archive"
    " ORDER BY position_ms DESC, position_seq DESC LIMIT 1"
)
# One client's orders by status (API keys on: a client's metrics count its own orders only).
_CLIENT_STATUSES = """
SELECT status, count(*),
    count(*) FILTER (WHERE status = 'routing' AND last_event_type = 'AttemptFailed')
FROM orders WHERE client_id = %s GROUP BY status
"""


@dataclass(frozen=True, slots=True)
class GroupFigures:
    name: str
    pending: int  # delivered to a consumer, not acked yet
    lag: int  # in the log, not yet delivered to the group
    consumers: int  # alive now (a heartbeat that has not expired), not every name ever seen


@dataclass(slots=True)
class MetricsReadings:
    counters: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    confirmed_in_window: int = 0
    confirmed_last_minute: int = 0
    groups: dict[str, GroupFigures] = field(default_factory=dict)
    log_length: int = 0
    oldest_position: str | None = None
    archived_through: str | None = None
    trim_point: TrimPoint | None = None
    dead_letters: int = 0

    def counter(self, name: str, label: str = "") -> int:
        return int(self.counters.get((name, label), 0))

    def labelled(self, name: str) -> dict[str, Decimal]:
        return {label: value for (n, label), value in self.counters.items() if n == name}


async def read_metrics(res: Resources, client_id: str | None = None) -> MetricsReadings:
    """Every order's figures, or with `client_id` only that client's (and nothing of the log or
    its consumers: those are the operators')."""
    if client_id is not None:
        return await _read_client_metrics(res, client_id)
    readings = MetricsReadings()
    async with res.pool.connection() as conn:
        cursor = await conn.execute("SELECT name, label, value FROM metric_counters")
        readings.counters = {(name, label): value for name, label, value in await cursor.fetchall()}
        cursor = await conn.execute(_LATENCY.format(client=""), (LATENCY_WINDOW_SECONDS,))
        row = await cursor.fetchone()
        cursor = await conn.execute(_ARCHIVED_THROUGH)
        newest = await cursor.fetchone()
    _set_latency(readings, row)
    readings.archived_through = None if newest is None else f"{newest[0]}-{newest[1]}"
    stream, dead_letters = res.keys.events, res.keys.dead_letters
    async with res.redis.pipeline(transaction=False) as pipe:
        pipe.xlen(stream)
        pipe.xlen(dead_letters)
        pipe.xrange(stream, count=1)
        readings.log_length, readings.dead_letters, first = await pipe.execute()
    readings.oldest_position = first[0][0].decode() if first else None
    readings.trim_point = await trim_point(res.redis, res.keys, res.settings.log_retention_seconds)
    readings.groups = {
        group.name: GroupFigures(
            group.name, group.pending, group.lag or 0, len(group.live_consumers)
        )
        for group in await group_statuses(res.redis, res.keys)
    }
    return readings


async def _read_client_metrics(res: Resources, client_id: str) -> MetricsReadings:
    readings = MetricsReadings()
    async with res.pool.connection() as conn:
        cursor = await conn.execute(_CLIENT_STATUSES, (client_id,))
        for status, count, awaiting_retry in await cursor.fetchall():
            readings.counters[(ORDERS_IN_STATUS, status)] = Decimal(count)
            previous = readings.counters.get((ORDERS_AWAITING_RETRY, ""), Decimal(0))
            readings.counters[(ORDERS_AWAITING_RETRY, "")] = previous + awaiting_retry
        latency = _LATENCY.format(client="AND client_id = %s")
        cursor = await conn.execute(latency, (LATENCY_WINDOW_SECONDS, client_id))
        row = await cursor.fetchone()
    _set_latency(readings, row)
    return readings


def _set_latency(readings: MetricsReadings, row: tuple[Any, ...] | None) -> None:
    if row is not None:
        p50, p99, readings.confirmed_in_window, readings.confirmed_last_minute = row
        readings.latency_p50_ms = None if p50 is None else round(float(p50), 3)
        readings.latency_p99_ms = None if p99 is None else round(float(p99), 3)
