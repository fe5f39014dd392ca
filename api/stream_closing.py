"""How a WebSocket stream ends: a close frame that never waits for ever behind a stalled client,
a refusal (an error message, then the close), and the exception a session ends with."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect

from api.stream_messages import Closing, error_message

CLOSE_TIMEOUT_SECONDS = 10.0  # how long a close frame may wait behind a stalled client's backlog


class ClosingError(Exception):
    """Ends a session with `closing`; with an `error_code`, an error message is sent first."""

    def __init__(
        self, closing: Closing | int, error_code: str | None = None, error: str = ""
    ) -> None:
        super().__init__(error)
        self.closing = closing if isinstance(closing, Closing) else Closing(closing, error)
        self.error_code = error_code


async def close(websocket: WebSocket, closing: Closing) -> None:
    """Send a close frame; give up after a while if the client's backlog never drains."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, TimeoutError):
        await asyncio.wait_for(websocket.close(closing.code, closing.reason), CLOSE_TIMEOUT_SECONDS)


async def refuse(websocket: WebSocket, code: int, error_code: str, error: str) -> None:
    """Tell the client what is wrong in an error message, then close with `code`."""
    with contextlib.suppress(WebSocketDisconnect):
        await websocket.send_text(error_message(error_code, error))
    # A close reason holds at most 123 bytes.
    reason = error.encode()[:120].decode(errors="ignore")
    await close(websocket, Closing(code, reason))
