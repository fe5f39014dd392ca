"""Running the API on a real port in this process, and the WebSocket client side of the tests."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.relay import LogRelay
from api.serving import server_options
from eventlog.append import EventAppender
from eventlog.settings import Settings
from oee.wiring import api_app
from schema.events import (
    AttemptFailed,
    OrderConfirmed,
    Payload,
    Quote,
    RouteSelected,
    RoutingStarted,
    TransactionBuilt,
    TransactionSubmitted,
    new_event,
)
from tests.support.factories import order_placed
from tests.support.polling import eventually

RECEIVE_TIMEOUT = 10.0


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # leave the test runner's signal handlers alone


@dataclass(frozen=True)
class RunningApi:
    app: Starlette
    http_url: str
    ws_url: str

    @property
    def relay(self) -> LogRelay:
        found: LogRelay = self.app.state.resources.relay
        return found


@contextlib.asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[RunningApi]:
    """The API app served by uvicorn on a free port, as `oee api` would serve it."""
    app = api_app(settings)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    options = server_options(
        settings, log_level="warning", timeout_graceful_shutdown=5, backlog=2048
    )
    config = uvicorn.Config(app, **options)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await eventually(lambda: server.started or task.done(), what="the API to start")
        if task.done():
            task.result()
        relay: LogRelay = app.state.resources.relay
        await eventually(lambda: relay.running, what="the log relay to start")
        yield RunningApi(app, f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task
        listener.close()


@contextlib.asynccontextmanager
async def client(url: str) -> AsyncIterator[ClientConnection]:
    async with connect(url, compression=None, open_timeout=RECEIVE_TIMEOUT) as ws:
        yield ws


async def receive(ws: ClientConnection, within: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
    """The next message as JSON; fails the test when none comes in time."""
    raw = await asyncio.wait_for(ws.recv(), within)
    message: dict[str, Any] = orjson.loads(raw)
    return message


async def receive_events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` event messages (status updates, retries and venue updates), skipping
    heartbeats."""
    found: list[dict[str, Any]] = []
    while len(found) < count:
        message = await receive(ws)
        if message["type"] in {"status_update", "retry", "venue_update"}:
            found.append(message)
    return found


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None, list[dict[str, Any]]]:
    """Read until the server closes: its close code and reason, and what came before."""
    before: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            before.append(await receive(ws))
    await asyncio.wait_for(ws.wait_closed(), RECEIVE_TIMEOUT)
    return ws.close_code, ws.close_reason, before


def lifecycle_payloads() -> list[Payload]:
    """What execution appends after OrderPlaced: a failed attempt, a retry, a confirmation."""
    quote = Quote(
        venue="raydium", amount_out=Decimal("150.5"), fee=Decimal("0.3"), price_impact=Decimal(0)
    )
    return [
        RoutingStarted(attempt=1),
        AttemptFailed(
            attempt=1, error_code="QUOTE_EXPIRED", error_message="quote expired", retry_delay_ms=250
        ),
        RoutingStarted(attempt=2),
        RouteSelected(
            attempt=2,
            quotes=(quote,),
            chosen=quote,
            expected_out=Decimal("150.5"),
            min_amount_out=Decimal("149"),
            reason="best amount out",
        ),
        TransactionBuilt(attempt=2, steps=("wrap SOL", "swap")),
        TransactionSubmitted(attempt=2, tx_hash="tx-1"),
        OrderConfirmed(
            attempt=2,
            tx_hash="tx-1",
            venue="raydium",
            amount_out=Decimal("150.4"),
            executed_price=Decimal("100.27"),
            fee=Decimal("0.3"),
            price_impact=Decimal("0.001"),
        ),
    ]


LIFECYCLE_STATUSES = [
    "pending",
    "routing",
    "routing",
    "routing",
    "building",
    "building",
    "submitted",
    "confirmed",
]


async def place(appender: EventAppender, order_id: uuid.UUID | None = None) -> uuid.UUID:
    placed = order_placed(order_id)
    await appender.append([placed], expected_sequence=0)
    return placed.order_id


async def append_steps(
    appender: EventAppender,
    order_id: uuid.UUID,
    payloads: Sequence[Payload],
    after_sequence: int = 1,
) -> list[str]:
    """Append each payload as the order's next event, one append per event; their positions."""
    positions: list[str] = []
    for sequence, payload in enumerate(payloads, start=after_sequence + 1):
        event = new_event(payload, order_id=order_id, sequence=sequence)
        result = await appender.append([event], expected_sequence=sequence - 1)
        assert isinstance(result, list)
        positions += result
    return positions


class StalledClient:
    """A WebSocket client that completes the handshake and then reads nothing until told to."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    async def open(cls, ws_url: str, path: str) -> StalledClient:
        host, port = ws_url.removeprefix("ws://").split(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window, so the server's buffers fill after little data.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += await asyncio.wait_for(loop.sock_recv(sock, 1), RECEIVE_TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(sock)

    async def read_until_closed(self) -> tuple[int, str, list[dict[str, Any]]]:
        """Read the backlog: the messages, then the close frame's code and reason."""
        loop = asyncio.get_running_loop()
        data = b""
        messages: list[dict[str, Any]] = []
        while True:
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 16), RECEIVE_TIMEOUT)
            if not chunk:
                raise AssertionError("the server hung up without a close frame")
            data += chunk
            while (frame := _frame(data)) is not None:
                opcode, payload, data = frame
                if opcode == 8:
                    code = int.from_bytes(payload[:2], "big")
                    return code, payload[2:].decode(), messages
                if opcode == 1:  # text; pings and pongs are not messages
                    messages.append(orjson.loads(payload))

    def close(self) -> None:
        self.sock.close()


def _frame(data: bytes) -> tuple[int, bytes, bytes] | None:
    """One unmasked server frame from the front of `data`: opcode, payload, the rest."""
    if len(data) < 2:
        return None
    opcode, length, start = data[0] & 0x0F, data[1] & 0x7F, 2
    if length == 126:
        length, start = int.from_bytes(data[2:4], "big"), 4
    elif length == 127:
        length, start = int.from_bytes(data[2:10], "big"), 10
    if len(data) < start + length:
        return None
    return opcode, data[start : start + length], data[start + length :]
