"""Query endpoints over the read tables: one order, a page of orders, one order's events.

Plain SQL over tables only projectors write. Right after a POST an order may not be projected yet;
then it is folded from the log (read-your-writes), so a client never sees a 404 for its own order.
One order and its events are read from the log too while PostgreSQL is unreachable.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

import orjson
import psycopg
from starlette.requests import Request
from starlette.responses import Response

from api.auth import caller_of, client_id_of, may_see
from api.order_ids import parse_order_id
from api.order_log import logged_events, order_history, owns, state_of
from api.order_lookup import ORDER_VIEW_SELECT, fetch_rows
from api.order_views import order_answer, render_event_row, render_order_row, render_recorded
from api.resources import resources
from api.responses import ApiError, JSONResponse
from schema.statuses import OrderStatus
from schema.tokens import SYMBOL, TOKENS

DEFAULT_PAGE = 50
MAX_PAGE = 500

_ORDER_EVENTS = (
    "SELECT position, sequence, type, status, occurred_at, payload, event_id"
    " FROM order_events WHERE order_id = %s ORDER BY sequence"
)
# Equality filters the list accepts: query parameter → column (each has an index with the keyset).
_FILTERS = {"status": "status", "tokenIn": "token_in", "tokenOut": "token_out"}


logger = logging.getLogger(__name__)
T = TypeVar("T")


_WARN_EVERY_S = 10.0
_last_warning = -_WARN_EVERY_S


async def _unless_unreachable(read: Awaitable[T], order_id: uuid.UUID, within_s: float) -> T | None:
    """What `read` gets from PostgreSQL within `within_s` seconds, or None when it cannot be
    reached in that time (a pool timeout is an OperationalError too): the log, the system of
    record, then answers alone."""
    global _last_warning
    try:
        async with asyncio.timeout(within_s):
            return await read
    except (psycopg.OperationalError, TimeoutError) as exc:
        now = time.monotonic()
        if now - _last_warning >= _WARN_EVERY_S:  # one line per outage, not one per request
            _last_warning = now
            logger.warning(
                "order_id=%s: PostgreSQL unreachable (%r); answering reads from the log",
                order_id,
                exc,
            )
        return None


def _not_found(order_id: object) -> ApiError:
    return ApiError(404, "ORDER_NOT_FOUND", f"order {order_id} not found")


async def get_order(request: Request) -> Response:
    res = resources(request)
    order_id = parse_order_id(request.path_params["order_id"])
    finished = res.finished.get(order_id)
    if finished is not None:  # ended: the answer cannot have changed
        if not may_see(request, finished.client_id):
            raise _not_found(order_id)
        return Response(finished.body, media_type="application/json")
    live = res.live.answer(order_id)  # followed from its placement by this process's relay
    if live is not None:
        owner, body = live
        if not may_see(request, owner):
            raise _not_found(order_id)
        return Response(body, media_type="application/json")
    wait = res.settings.api_store_timeout_seconds
    row = await _unless_unreachable(res.orders.get(order_id), order_id, wait)
    if row is not None and row["sequence"] < res.live.floor(order_id):
        row = None  # behind what this process has shown: the log answers
    if row is not None:
        if not may_see(request, row["client_id"]):
            raise _not_found(order_id)
        answer = JSONResponse({"success": True, "order": render_order_row(row)})
        res.finished.keep(order_id, row["status"], row["client_id"], bytes(answer.body))
        res.live.answered_elsewhere(order_id, row["sequence"])
        return answer
    history = await order_history(res, order_id)
    state = state_of(history)
    if state is None or not may_see(request, state.client_id):
        raise _not_found(order_id)
    res.live.answered_elsewhere(order_id, state.sequence)
    return Response(order_answer(state, history[-1].position), media_type="application/json")


async def get_order_events(request: Request) -> Response:
    """The order's events in sequence order, from the history table, or from the log while the
    table has fewer of them than the log (not projected yet)."""
    res = resources(request)
    order_id = parse_order_id(request.path_params["order_id"])
    wait = res.settings.api_store_timeout_seconds
    rows = await _unless_unreachable(
        fetch_rows(res.pool, _ORDER_EVENTS, (order_id,)), order_id, wait
    )
    logged = await logged_events(res, order_id)
    if rows and len(rows) >= logged:
        events = [render_event_row(row) for row in rows]
    else:
        events = [render_recorded(r) for r in await order_history(res, order_id)]
    if not events or not await owns(request, order_id):
        raise _not_found(order_id)
    return JSONResponse({"success": True, "orderId": str(order_id), "events": events})


def encode_cursor(created_at: datetime, order_id: uuid.UUID) -> str:
    raw = orjson.dumps([created_at.isoformat(), str(order_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, order_id = orjson.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, uuid.UUID(order_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise ApiError(400, "INVALID_CURSOR", "cursor is not one this API gave out") from None


def _bad_query(name: str, message: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_QUERY",
        f"{name}: {message}",
        details=[{"field": name, "message": message}],
    )


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_PAGE):
        raise _bad_query("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def _filter_value(name: str, raw: str) -> str:
    if name == "status" and raw not in OrderStatus.__members__.values():
        raise _bad_query(name, f"must be one of {', '.join(OrderStatus)}")
    if name in ("tokenIn", "tokenOut") and not SYMBOL.fullmatch(raw):
        raise _bad_query(name, f"must be a token symbol such as {', '.join(TOKENS)}")
    return raw


async def list_orders(request: Request) -> Response:
    """Newest first; keyset pagination on (created_at, id): inserts never shift a page."""
    res = resources(request)
    query = request.query_params
    limit = _page_size(query.get("limit"))
    conditions: list[str] = []
    params: list[Any] = []
    for name, column in _FILTERS.items():
        raw = query.get(name)
        if raw is not None:
            conditions.append(f"{column} = %s")
            params.append(_filter_value(name, raw))
    caller = caller_of(request)
    if caller is not None and not caller.admin:  # a client lists its own orders only
        conditions.append("client_id = %s")
        params.append(client_id_of(caller))
    cursor = query.get("cursor")
    if cursor:
        conditions.append("(created_at, id) < (%s, %s)")
        params += decode_cursor(cursor)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await fetch_rows(
        res.pool,
        f"SELECT {ORDER_VIEW_SELECT} FROM orders {where}"
        " ORDER BY created_at DESC, id DESC LIMIT %s",
        (*params, limit + 1),
    )
    page = rows[:limit]
    next_cursor = (
        encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > limit else None
    )
    return JSONResponse(
        {
            "success": True,
            "orders": [render_order_row(row) for row in page],
            "nextCursor": next_cursor,
        }
    )
