"""`GET /api/metrics` (the seed's JSON shape, with the real statuses) and `GET /metrics`
(Prometheus text format). Both read the projection's counters and the stream; neither writes.

Each scrape builds its own registry, so any number of apps can live in one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from api.auth import caller_of, client_id_of, require_operator
from api.metrics_readings import (
    LATENCY_BUCKET,
    LATENCY_SUM,
    LATENCY_WINDOW_SECONDS,
    ORDERS_AWAITING_RETRY,
    ORDERS_IN_STATUS,
    MetricsReadings,
    read_metrics,
)
from api.order_views import format_time
from api.resources import resources
from api.responses import JSONResponse
from schema.statuses import OrderStatus

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Monotonic counters of the projection: name in `metric_counters` → (Prometheus name, label, help).
_COUNTERS = {
    "orders_placed": ("oee_orders_placed", "order_type", "Orders accepted, by order type."),
    "orders_confirmed": ("oee_orders_confirmed", "venue", "Orders confirmed, by venue."),
    "orders_failed": ("oee_orders_failed", "error_code", "Orders failed for good, by error."),
    "attempts_failed": ("oee_attempts_failed", "error_code", "Attempts failed and retried."),
    "retries": ("oee_retries", None, "Attempts after an order's first."),
    "volume_in": ("oee_volume_in", "token", "Amount sold by confirmed orders, by token."),
    "volume_out": ("oee_volume_out", "token", "Amount bought by confirmed orders, by token."),
}


# Between `pending` and a terminal status: taken by a processor, not finished (retries included).
IN_FLIGHT_STATUSES = (OrderStatus.ROUTING, OrderStatus.BUILDING, OrderStatus.SUBMITTED)


def order_figures(readings: MetricsReadings) -> dict[str, int]:
    figures = {
        status.value: readings.counter(ORDERS_IN_STATUS, status.value) for status in OrderStatus
    }
    figures["total"] = sum(figures.values())
    return figures


def seed_order_figures(orders: dict[str, int]) -> dict[str, int]:
    """The original service's `orders` keys beside ours: `processing` (in flight, `pending` not
    included: the seed reports it on its own) and `completed` (confirmed)."""
    return {
        "processing": sum(orders[status.value] for status in IN_FLIGHT_STATUSES),
        "completed": orders[OrderStatus.CONFIRMED.value],
    }


def queue_figures(orders: dict[str, int], awaiting_retry: int) -> dict[str, int]:
    """The seed's job-queue figures, counted in orders: `waiting` = placed and not yet taken by a
    processor (`pending`), `active` = in flight and not waiting for a retry, `delayed` = waiting
    for a retry after a failed attempt, `completed` / `failed` = confirmed / failed for good."""
    in_flight = sum(orders[status.value] for status in IN_FLIGHT_STATUSES)
    return {
        "waiting": orders[OrderStatus.PENDING.value],
        "active": max(0, in_flight - awaiting_retry),
        "completed": orders[OrderStatus.CONFIRMED.value],
        "failed": orders[OrderStatus.FAILED.value],
        "delayed": awaiting_retry,
    }


async def api_metrics(request: Request) -> Response:
    """Every order's figures; a client with a key (not an operator's) gets its own orders' only."""
    caller = caller_of(request)
    own = None if caller is None or caller.admin else client_id_of(caller)
    readings = await read_metrics(resources(request), own)
    orders = order_figures(readings)
    body: dict[str, Any] = {
        "success": True,
        "queue": queue_figures(orders, readings.counter(ORDERS_AWAITING_RETRY)),
        "orders": {**orders, **seed_order_figures(orders)},
        "latency": {
            "acceptToConfirmedMs": {
                "p50": readings.latency_p50_ms,
                "p99": readings.latency_p99_ms,
                "count": readings.confirmed_in_window,
            },
            "windowSeconds": LATENCY_WINDOW_SECONDS,
        },
        "throughput": {"ordersPerMinute": readings.confirmed_last_minute},
        "deadLetters": readings.dead_letters,
        "consumerGroups": {
            name: {"pending": g.pending, "lag": g.lag, "consumers": g.consumers}
            for name, g in sorted(readings.groups.items())
        },
        "timestamp": format_time(datetime.now(UTC)),
    }
    if own is None:
        body["log"] = {
            "length": readings.log_length,
            "oldestPosition": readings.oldest_position,
            "archivedThrough": readings.archived_through,
            "trimPoint": None if readings.trim_point is None else readings.trim_point.position,
            "trimHeldBy": None if readings.trim_point is None else readings.trim_point.held_by,
        }
    return JSONResponse(body)


class ReadingsCollector(Collector):
    """Metric families from one set of readings (taken asynchronously before the scrape)."""

    def __init__(self, readings: MetricsReadings) -> None:
        self._readings = readings

    def collect(self) -> Iterator[Metric]:
        r = self._readings
        orders = GaugeMetricFamily("oee_orders", "Orders by current status.", labels=["status"])
        for status, count in order_figures(r).items():
            if status != "total":
                orders.add_metric([status], count)
        yield orders
        yield GaugeMetricFamily(
            "oee_orders_awaiting_retry",
            "Orders back in routing after a failed attempt.",
            value=r.counter(ORDERS_AWAITING_RETRY),
        )
        for source, (name, label, doc) in _COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=[label] if label else None)
            for key, value in sorted(r.labelled(source).items()):
                family.add_metric([key] if label else [], float(value))
            yield family
        yield self._latency()
        yield GaugeMetricFamily("oee_log_entries", "Entries in the event log.", value=r.log_length)
        for name, position, doc in (
            ("oee_log_oldest_position_ms", r.oldest_position, "The stream's oldest entry"),
            ("oee_archive_newest_position_ms", r.archived_through, "The archive's newest event"),
            (
                "oee_log_trim_point_ms",
                None if r.trim_point is None else r.trim_point.position,
                "Below it every reader is done with the log (the trim point)",
            ),
        ):
            if position is not None:
                ms = float(position.split("-")[0])
                yield GaugeMetricFamily(name, f"{doc}: its position's milliseconds.", value=ms)
        yield GaugeMetricFamily(
            "oee_dead_letters", "Entries in the dead-letter stream.", value=r.dead_letters
        )
        for metric, doc in (("pending", "delivered, not acked"), ("lag", "not yet delivered")):
            gauge = GaugeMetricFamily(
                f"oee_consumer_group_{metric}", f"Log entries {doc}, by group.", labels=["group"]
            )
            for name, group in sorted(r.groups.items()):
                gauge.add_metric([name], getattr(group, metric))
            yield gauge

    def _latency(self) -> HistogramMetricFamily:
        buckets = self._readings.labelled(LATENCY_BUCKET)
        bounds = sorted(float(b) for b in buckets if b != "+Inf")
        cumulative: list[tuple[str, float]] = []
        running = 0.0
        for bound in bounds:
            running += float(buckets[_label(bound)])
            cumulative.append((repr(bound / 1000), running))
        running += float(buckets.get("+Inf", 0))
        cumulative.append(("+Inf", running))
        total_ms = float(self._readings.counters.get((LATENCY_SUM, ""), 0))
        return HistogramMetricFamily(
            "oee_accept_to_confirmed_seconds",
            "Time from an order's acceptance to its confirmation.",
            buckets=cumulative,
            sum_value=total_ms / 1000,
        )


def _label(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else str(bound)


async def prometheus_metrics(request: Request) -> Response:
    require_operator(request)
    readings = await read_metrics(resources(request))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReadingsCollector(readings))
    return Response(generate_latest(registry), media_type=PROMETHEUS_CONTENT_TYPE)
