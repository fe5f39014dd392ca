"""Operator command endpoints on the venues: `POST /api/venues/pools` launches a pool (listing its
new token). It writes an event, never a table; with API keys on it takes an admin key only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import require_operator
from api.bodies import read_json
from api.resources import resources
from api.responses import ApiError, JSONResponse, unavailable
from commands.order_intake import PoolExistsError
from commands.place_order import CommandRejectedError
from eventlog.store_errors import STORES_UNAVAILABLE


async def launch_pool(request: Request) -> Response:
    require_operator(request)
    res = resources(request)
    body = await read_json(request)
    try:
        launched = await res.intake.launch(body)
    except CommandRejectedError as exc:
        raise ApiError(400, exc.code, exc.message, exc.details) from None
    except PoolExistsError as exc:
        raise ApiError(409, "POOL_EXISTS", str(exc)) from None
    except STORES_UNAVAILABLE:
        raise unavailable("the event log is unreachable; the pool was not launched") from None
    return JSONResponse(
        {
            "success": True,
            "poolId": str(launched.pool_id),
            "venue": launched.venue,
            "pair": launched.pair,
            "listed": launched.listed,
            "position": launched.position,
            "message": "Pool launched: it trades as soon as the processors open it.",
        },
        status_code=201,
    )
