"""`GET /health`: healthy when Redis and PostgreSQL answer; 503 when either does not.

Consumer groups are reported (live consumers, pending, lag) but do not make the API unhealthy:
the API keeps serving queries and accepting orders while processors restart.

The answer says what is wrong in words of its own, never an exception's text (which can name
internal hosts and ports); the full error goes to the log (api.health_reports).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import OutOfMemoryError
from starlette.requests import Request
from starlette.responses import Response

from api.order_views import format_time
from api.resources import resources
from api.responses import JSONResponse
from eventlog.consumer_health import group_statuses

CHECK_TIMEOUT_S = 2.0
PROBE_TTL_MS = 10_000
REDIS_FULL = "Redis is at its maxmemory: writes refused"
REDIS_DOWN = "Redis did not answer"
POSTGRES_DOWN = "PostgreSQL did not answer"
CONSUMERS_UNREAD = "the consumer groups could not be read"


async def health(request: Request) -> Response:
    res = resources(request)
    reports = res.health
    checks: dict[str, Any] = {}
    healthy = True
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            # A write, not a PING: a Redis at its maxmemory still answers PING but takes no order.
            await res.redis.set(res.keys.health_probe, b"1", px=PROBE_TTL_MS)
        checks["redis"] = {"status": "up"}
        reports.up("redis")
    except OutOfMemoryError as exc:
        healthy = False
        checks["redis"] = {"status": "full", "error": REDIS_FULL}
        reports.failed("redis", "full", exc)
    except Exception as exc:  # any failure to answer is what this check reports
        healthy = False
        checks["redis"] = {"status": "down", "error": REDIS_DOWN}
        reports.failed("redis", "down", exc)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), res.pool.connection() as conn:
            await conn.execute("SELECT 1")
        checks["postgres"] = {"status": "up"}
        reports.up("postgres")
    except Exception as exc:  # any failure to answer is what this check reports
        healthy = False
        checks["postgres"] = {"status": "down", "error": POSTGRES_DOWN}
        reports.failed("postgres", "down", exc)
    if checks["redis"]["status"] == "up":
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                groups = await group_statuses(res.redis, res.keys)
            checks["consumers"] = {g.name: g.as_json() for g in groups}
            reports.up("consumers")
        except Exception as exc:  # reported, not fatal: see the module docstring
            checks["consumers"] = {"error": CONSUMERS_UNREAD}
            reports.failed("consumers", "unread", exc)
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": format_time(datetime.now(UTC)),
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
