"""The client side of the WebSocket benchmark: a process of bare asyncio WebSocket clients that
records, for every status update, the time from its append to the moment its bytes arrived.

`bench.websocket` starts several of these processes and drives each through lines of JSON on its
stdin and stdout; they keep the clients' parsing off the appender's event loop and let the kernel
spread the clients over the cores. Receipt is timed before any parsing, and an event's append time
is parsed once per process, not once per socket, so a client's own work inflates the figures as
little as possible.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
import zlib
from array import array
from datetime import datetime
from typing import Any, cast

_EVENT_PREFIX = b'{"type":"status_update"'
_TIMESTAMP = b'"timestamp":"'
CONNECT_ATTEMPTS = 5  # the server refuses sockets for an instant after start-up (relay not reading)


class LatencyRecorder:
    """The latencies seen by one process's clients."""

    def __init__(self) -> None:
        self.latencies: array[float] = array("d")
        self._appended_at: dict[bytes, float] = {}  # an event's timestamp text -> epoch seconds

    def record(self, payload: bytes, received_at: float) -> None:
        begin = payload.find(_TIMESTAMP) + len(_TIMESTAMP)
        stamp = payload[begin : payload.find(b'"', begin)]
        appended_at = self._appended_at.get(stamp)
        if appended_at is None:
            appended_at = datetime.fromisoformat(stamp.decode()).timestamp()
            self._appended_at[stamp] = appended_at
        self.latencies.append(received_at - appended_at)

    def reset(self) -> None:
        self.latencies = array("d")
        self._appended_at.clear()


class LatencyClient(asyncio.Protocol):
    """One WebSocket on a stream; counts the status updates it receives and times each one.

    With `deflate` it offers permessage-deflate, as browsers and the `websockets` client do.
    """

    def __init__(self, recorder: LatencyRecorder, path: str, deflate: bool) -> None:
        self.recorder = recorder
        self.path = path
        self.deflate = deflate
        self.inflater = zlib.decompressobj(-15)
        self.connected = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.handshaken = False
        self.events = 0
        self.last_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            + ("Sec-WebSocket-Extensions: permessage-deflate\r\n" if self.deflate else "")
            + "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        transport.write(request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.handshaken:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            self.handshaken = True
            buffer = buffer[end + 4 :]
        at, size = 0, len(buffer)
        while size - at >= 2:
            length, start = buffer[at + 1] & 0x7F, at + 2
            if length == 126:
                length, start = int.from_bytes(buffer[at + 2 : at + 4], "big"), at + 4
            elif length == 127:
                length, start = int.from_bytes(buffer[at + 2 : at + 10], "big"), at + 10
            if size < start + length:
                break
            payload = buffer[start : start + length]
            if buffer[at] & 0x40:  # compressed (RSV1)
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            self._message(payload, now)
            at = start + length
        self.buffer = buffer[at:]

    def _message(self, payload: bytes, now: float) -> None:
        if not payload.startswith(_EVENT_PREFIX):
            if not self.connected.done() and payload.startswith(b'{"type":"connected"'):
                self.connected.set_result(None)
            return
        self.recorder.record(payload, now)
        self.events += 1
        self.last_at = now

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("closed before connected"))


async def connect_clients(
    port: int, count: int, recorder: LatencyRecorder, deflate: bool, path: str
) -> list[LatencyClient]:
    """`count` clients on `path`, a hundred handshakes at a time, each retried a few times."""
    loop = asyncio.get_running_loop()

    async def one() -> LatencyClient:
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            _, client = await loop.create_connection(
                lambda: LatencyClient(recorder, path, deflate), "127.0.0.1", port
            )
            try:
                await asyncio.wait_for(client.connected, 30)
                return client
            except ConnectionError:
                if attempt == CONNECT_ATTEMPTS:
                    raise
                await asyncio.sleep(0.1 * attempt)  # deliberate: the server is still starting
        raise AssertionError("unreachable")

    clients: list[LatencyClient] = []
    for start in range(0, count, 100):
        clients += await asyncio.gather(*(one() for _ in range(min(100, count - start))))
    return clients


async def _delivered(clients: list[LatencyClient], expected: list[int], within: float) -> int:
    """How many expected messages are missing after waiting up to `within` seconds for them."""
    deadline = time.monotonic() + within
    while True:
        missing = sum(max(0, e - c.events) for c, e in zip(clients, expected, strict=True))
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.01)  # deliberate: polling the counters


async def _serve_parent(port: int, count: int, deflate: bool, path: str) -> None:
    """Connect, then answer the parent's commands: `start` a phase, `collect` its figures."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    recorder = LatencyRecorder()
    clients = await connect_clients(port, count, recorder, deflate, path)
    _reply({"connected": len(clients)})
    expected: list[int] = []
    cpu = 0.0
    while line := await commands.readline():
        command: dict[str, Any] = json.loads(line)
        if command["do"] == "start":
            recorder.reset()
            cpu = time.process_time()
            expected = [c.events + command["events"] for c in clients]
            _reply({"ready": True})
        elif command["do"] == "collect":
            missing = await _delivered(clients, expected, command["within"])
            _reply(
                {
                    "missing": missing,
                    "last_at": max(c.last_at for c in clients),
                    "cpu_s": time.process_time() - cpu,
                    "latencies": base64.b64encode(recorder.latencies.tobytes()).decode(),
                }
            )
    for client in clients:
        if client.transport is not None:
            client.transport.close()


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    import uvloop

    port, count, deflate, path = sys.argv[1:5]
    uvloop.run(_serve_parent(int(port), int(count), deflate == "1", path))
