"""`GET /health`: healthy when Redis and PostgreSQL answer; 503 when either does not. Served from
the API's last background check (`api.health_watch`), never a store round trip per probe."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.resources import resources


async def health(request: Request) -> Response:
    found = await resources(request).health.current()
    return Response(found.body, status_code=found.status_code, media_type="application/json")
