"""The two WebSocket routes: admission (streams per client and per process), the request's
order id and resume position checked, then a `StreamSession`."""

from __future__ import annotations

import uuid

from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from api.client_identity import client_identity
from api.resources import resources
from api.stream_closing import refuse
from api.stream_messages import INVALID_REQUEST, InvalidPositionError, parse_position
from api.streams import StreamSession


def _after(websocket: WebSocket) -> str | None:
    raw = websocket.query_params.get("after")
    return None if raw is None else parse_position(raw)[0]


class _StreamEndpoint:
    """The ASGI app of one stream route; it keeps the server's `send` for the hot path."""

    def __init__(self, one_order: bool) -> None:
        self.one_order = one_order

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        admission = resources(websocket).streams
        client = client_identity(websocket)
        refusal = admission.admit(client)
        if refusal is not None:
            await refuse(websocket, refusal.code, "TOO_MANY_STREAMS", refusal.reason)
            return
        try:
            await self._serve(websocket, send)
        finally:
            admission.leave(client)

    async def _serve(self, websocket: WebSocket, send: Send) -> None:
        order_id: uuid.UUID | None = None
        if self.one_order:
            try:
                order_id = uuid.UUID(websocket.path_params["order_id"])
            except ValueError:
                await refuse(websocket, INVALID_REQUEST, "INVALID_ORDER_ID", "malformed order id")
                return
        try:
            after = _after(websocket)
        except InvalidPositionError as exc:
            await refuse(websocket, INVALID_REQUEST, "INVALID_POSITION", str(exc))
            return
        await StreamSession(websocket, send, order_id, after).run()


def stream_routes() -> list[WebSocketRoute]:
    # The literal path comes first so "stream" is never taken for an order id.
    return [
        WebSocketRoute("/api/orders/stream/all", _StreamEndpoint(one_order=False), name="all"),
        WebSocketRoute(
            "/api/orders/{order_id}/stream", _StreamEndpoint(one_order=True), name="order"
        ),
    ]
