"""The OpenAPI schema of `GET /api/metrics`: the seed's queue and order figures, latency,
throughput, consumer groups and (for operators) the log's figures."""

from __future__ import annotations

from api.metrics import IN_FLIGHT_STATUSES
from api.openapi_schemas import (
    COUNT,
    GROUP_FIGURES,
    POSITION,
    TIME,
    Schema,
    closed,
    nullable,
    success,
)
from schema.statuses import OrderStatus


def _counts(descriptions: dict[str, str]) -> Schema:
    return closed({name: {**COUNT, "description": text} for name, text in descriptions.items()})


_ORDER_FIGURES = {
    **{status.value: f"orders {status.value}" for status in OrderStatus},
    "total": "every order, the sum of the statuses above",
    "processing": f"orders {', '.join(IN_FLIGHT_STATUSES)} (retries included; pending is not)",
    "completed": "orders confirmed (the same as confirmed)",
}
_MILLISECONDS = nullable({"type": "number", "minimum": 0})

METRICS = success(
    {
        "queue": _counts(
            {
                "waiting": "orders pending: placed, not yet taken by a processor",
                "active": "orders in flight, not waiting for a retry",
                "completed": "orders confirmed",
                "failed": "orders failed for good",
                "delayed": "orders waiting for a retry after a failed attempt",
            }
        ),
        "orders": _counts(_ORDER_FIGURES),
        "latency": closed(
            {
                "acceptToConfirmedMs": closed(
                    {"p50": _MILLISECONDS, "p99": _MILLISECONDS, "count": COUNT}
                ),
                "windowSeconds": {"type": "integer", "minimum": 1},
            }
        ),
        "throughput": closed({"ordersPerMinute": COUNT}),
        "deadLetters": COUNT,
        "consumerGroups": {
            "type": "object",
            "additionalProperties": closed(
                {**GROUP_FIGURES, "consumers": {**COUNT, "description": "live consumers"}}
            ),
        },
        "log": closed(
            {
                "length": {**COUNT, "description": "entries in the Redis stream"},
                "oldestPosition": nullable(POSITION),
                "archivedThrough": {
                    **nullable(POSITION),
                    "description": "the newest position the PostgreSQL archive holds",
                },
                "trimPoint": {
                    **nullable(POSITION),
                    "description": "entries below it are acked by every group (the archive's"
                    " included) and older than OEE_LOG_RETENTION_SECONDS",
                },
                "trimHeldBy": {
                    **nullable({"type": "string"}),
                    "description": "what holds the trim point: a group, retention, no archive",
                },
            }
        ),
        "timestamp": TIME,
    },
    optional=("log",),  # an operator's (or everyone's with keys off), not a client's
)
