"""uvicorn's httptools protocol with the bounds it lacks: how long a client may take to send a
request's head and its body (408 past either), how long its URL (414) and its head (431) may be.

uvicorn only times the idle wait between keep-alive requests. Without these bounds a client that
connects and sends a few bytes of a request holds its connection for ever, and a WebSocket URL too
long for the handshake parser is never answered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.responses import error_body
from eventlog.settings import Settings


@dataclass(frozen=True)
class RequestBounds:
    head_timeout_s: float
    body_timeout_s: float
    max_url_bytes: int
    max_head_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> RequestBounds:
        return cls(
            head_timeout_s=settings.api_header_timeout_seconds,
            body_timeout_s=settings.api_body_timeout_seconds,
            max_url_bytes=settings.api_max_url_bytes,
            max_head_bytes=settings.api_max_header_bytes,
        )


LINGER_S = 1.0
"""How long a refused connection is still read (and what comes discarded) before it is closed,
unless the client closes first."""


class _RefusedError(Exception):
    """Raised in a parser callback after the refusal is sent, to stop parsing the request."""


_REFUSALS = {
    408: ("REQUEST_TIMEOUT", "the request was not received in time"),
    414: ("URI_TOO_LONG", "the request's URL is too long"),
    431: ("HEADERS_TOO_LARGE", "the request's headers are too large"),
}


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """One connection. A timer runs from the connection (or a request's first byte) until its
    headers are complete, and another from then until its body is complete; when one expires
    the client is answered 408 and the connection closed."""

    bounds: RequestBounds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._reading_head = False
        self._head_bytes = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self.bounds.max_head_bytes:
            self._refuse(431)

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refusal stops the parser, which uvicorn takes for a bad request
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_head:  # the first request's timer runs from the connection
            self._start_head()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.bounds.max_url_bytes:
            self._refuse(414)
            raise _RefusedError

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._stop_timer()
        super().on_headers_complete()
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        if not upgrading and not self.transport.is_closing():
            self._read_timer = self.loop.call_later(self.bounds.body_timeout_s, self._timed_out)

    def on_message_complete(self) -> None:
        self._stop_timer()
        super().on_message_complete()

    def _start_head(self) -> None:
        self._reading_head = True
        self._head_bytes = 0
        self._stop_timer()
        self._read_timer = self.loop.call_later(self.bounds.head_timeout_s, self._timed_out)

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the server itself is not reading (a pipelined request)
            self._read_timer = self.loop.call_later(self.bounds.body_timeout_s, self._timed_out)
        else:
            self._refuse(408)

    def _refuse(self, status: int) -> None:
        """Answer `status` (unless the app has begun an answer) and close the connection."""
        self._refused = True
        self._reading_head = False
        self._stop_timer()
        cycle = self.cycle
        answered = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's reads end and what it sends is dropped
            cycle.message_event.set()
        if not answered:
            self.transport.write(self._refusal(status))
        if self.transport.can_write_eof():
            # Closed at once, a socket with unread data is reset, and a client still sending
            # loses the answer: end the sending side, discard what still comes, close soon.
            self.transport.write_eof()
            self._read_timer = self.loop.call_later(LINGER_S, self.transport.close)
        else:
            self.transport.close()

    def _refusal(self, status: int) -> bytes:
        code, message = _REFUSALS[status]
        body = orjson.dumps(error_body(code, message))
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        return b"".join(head) + body


def bounded_http_protocol(settings: Settings) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for uvicorn's `http` option, bound to these settings' bounds (uvicorn
    makes one instance a connection with its own arguments, so the bounds go on the class)."""

    class Bounded(BoundedHttpToolsProtocol):
        bounds = RequestBounds.of(settings)

    return Bounded
