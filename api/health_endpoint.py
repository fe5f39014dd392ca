"""`GET /health`: healthy when Redis and PostgreSQL answer; 503 when either does not.

Consumer groups are reported (live consumers, pending, lag) but do not make the API unhealthy:
the API keeps serving queries and accepting orders while processors restart.
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


async def health(request: Request) -> Response:
    res = resources(request)
    checks: dict[str, Any] = {}
    healthy = True
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            # A write, not a PING: a Redis at its maxmemory still answers PING but takes no order.
            await res.redis.set(res.keys.health_probe, b"1", px=PROBE_TTL_MS)
        checks["redis"] = {"status": "up"}
    except OutOfMemoryError:
        healthy = False
        checks["redis"] = {"status": "full", "error": "Redis is at its maxmemory: writes refused"}
    except Exception as exc:  # any failure to answer is what this check reports
        healthy = False
        checks["redis"] = {"status": "down", "error": str(exc) or type(exc).__name__}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), res.pool.connection() as conn:
            await conn.execute("SELECT 1")
        checks["postgres"] = {"status": "up"}
    except Exception as exc:  # any failure to answer is what this check reports
        healthy = False
        checks["postgres"] = {"status": "down", "error": str(exc) or type(exc).__name__}
    if checks["redis"]["status"] == "up":
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                groups = await group_statuses(res.redis, res.keys)
            checks["consumers"] = {g.name: g.as_json() for g in groups}
        except Exception as exc:  # reported, not fatal: see the module docstring
            checks["consumers"] = {"error": str(exc) or type(exc).__name__}
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": format_time(datetime.now(UTC)),
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
