"""`POST /api/stream-tickets`: a short-lived, single-use ticket that opens one WebSocket as the
caller, for clients (browsers) that cannot send a key on the handshake."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import caller_of
from api.resources import resources
from api.responses import JSONResponse
from api.ticket_store import issue_ticket


async def create_stream_ticket(request: Request) -> Response:
    res = resources(request)
    seconds = res.settings.ws_ticket_seconds
    ticket = await issue_ticket(res.redis, res.keys, caller_of(request), seconds)
    return JSONResponse(
        {"success": True, "ticket": ticket, "expiresInSeconds": seconds},
        status_code=201,
        headers={"cache-control": "no-store"},
    )
