"""Command endpoints: place an order, cancel an order. They write events, never tables."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.bodies import read_json
from api.client_identity import client_identity
from api.order_ids import parse_order_id
from api.order_log import owns
from api.resources import resources
from api.responses import ApiError, JSONResponse, unavailable
from commands.idempotency import InvalidIdempotencyKeyError
from commands.intake_limit import IntakeLimitedError
from commands.order_intake import (
    IdempotencyConflictError,
    OrderNotFoundError,
    PlacementOutcomeUnknownError,
    TooLateToCancelError,
    TooManyRestingOrdersError,
)
from commands.place_order import CommandRejectedError
from eventlog.store_errors import STORES_UNAVAILABLE


async def place_order(request: Request) -> Response:
    res = resources(request)
    body = await read_json(request)
    idempotency_key = request.headers.get("idempotency-key")
    try:
        placed = await res.intake.place(
            body, client_id=client_identity(request), idempotency_key=idempotency_key
        )
    except PlacementOutcomeUnknownError as exc:
        # The append may have reached the log before the connection failed: only a placement
        # with an Idempotency-Key is safe to repeat, so only it is told to retry. Either way the
        # order's id says where to look once the log is back.
        lookup = [
            {
                "orderId": str(exc.order_id),
                "message": f"GET /api/orders/{exc.order_id} tells: 404 means it was not accepted",
            }
        ]
        if idempotency_key is not None:
            raise unavailable(
                "the event log is unreachable; retry with the same key", details=lookup
            ) from None
        raise unavailable(
            "the event log is unreachable; the order may or may not have been accepted."
            " Send an Idempotency-Key to retry placements safely",
            retry=False,
            details=lookup,
        ) from None
    except STORES_UNAVAILABLE:
        raise unavailable("the event log is unreachable; the order was not accepted") from None
    except CommandRejectedError as exc:
        raise ApiError(400, exc.code, exc.message, exc.details) from None
    except InvalidIdempotencyKeyError as exc:
        raise ApiError(400, "INVALID_IDEMPOTENCY_KEY", str(exc)) from None
    except IdempotencyConflictError as exc:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED", str(exc)) from None
    except TooManyRestingOrdersError as exc:
        raise ApiError(409, "TOO_MANY_RESTING_ORDERS", str(exc)) from None
    except IntakeLimitedError as exc:
        raise ApiError(
            429,
            "RATE_LIMITED",
            f"too many orders; retry in {exc.retry_after_s} s",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    order_id = str(placed.order_id)
    return JSONResponse(
        {
            "success": True,
            "orderId": order_id,
            "status": "pending",
            "message": "Order accepted. Connect to the WebSocket for live updates.",
            "websocketUrl": f"/api/orders/{order_id}/stream",
            "position": placed.position,
            "replayed": placed.replayed,
        },
        status_code=202,
    )


async def cancel_order(request: Request) -> Response:
    res = resources(request)
    order_id = parse_order_id(request.path_params["order_id"])
    if not await owns(request, order_id):
        raise ApiError(404, "ORDER_NOT_FOUND", f"order {order_id} not found")
    try:
        cancelled = await res.intake.cancel(order_id)
    except OrderNotFoundError:
        raise ApiError(404, "ORDER_NOT_FOUND", f"order {order_id} not found") from None
    except TooLateToCancelError as exc:
        raise ApiError(409, "TOO_LATE_TO_CANCEL", str(exc)) from None
    return JSONResponse(
        {
            "success": True,
            "orderId": str(order_id),
            "status": "cancelled",
            "position": cancelled.position,
            "replayed": cancelled.replayed,
        }
    )
