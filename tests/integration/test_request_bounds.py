"""Request bounds of one API process: a client that sends its request's head or body too slowly
is answered 408 and disconnected, a URL too long 414, a head too large 431; keep-alive clients
that pause between requests are unaffected, and a flood of slow clients clears itself."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import orjson
import pytest

from eventlog.settings import Settings
from tests.support.polling import eventually
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import RunningApi, running_api

TIMEOUT = 0.5
"""The tests' head and body timeouts, in seconds."""
PROMPTLY = 5.0
"""How long a refusal may take to come, in seconds: far less than a hang, far more than
TIMEOUT."""


def bounded(make_settings: MakeSettings, **overrides: object) -> Settings:
    return make_settings(
        api_header_timeout_seconds=TIMEOUT, api_body_timeout_seconds=TIMEOUT, **overrides
    )


async def connect(server: RunningApi) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", int(server.http_url.rsplit(":", 1)[1]))


async def answer_then_close(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Everything the server sends until it closes: status, headers, body. Fails the test when
    the server neither answers nor closes in time."""
    raw = await asyncio.wait_for(reader.read(), PROMPTLY)  # read() returns at the server's close
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def assert_refused(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> None:
    got_status, headers, body = answer
    assert got_status == status, answer
    assert headers["connection"] == "close"
    assert orjson.loads(body)["code"] == code
    assert orjson.loads(body)["success"] is False


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /hea", b"GET /health HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n"],
    ids=["nothing", "part of the request line", "headers without their end"],
)
async def test_a_request_head_that_stops_coming_is_answered_408_and_closed(
    make_settings: MakeSettings, sent: bytes
) -> None:
    async with running_api(bounded(make_settings)) as server:
        reader, writer = await connect(server)
        started = time.monotonic()
        writer.write(sent)
        assert_refused(await answer_then_close(reader), 408, "REQUEST_TIMEOUT")
        assert time.monotonic() - started < TIMEOUT + 2
        writer.close()


async def test_a_body_shorter_than_its_content_length_is_answered_408_and_closed(
    make_settings: MakeSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_api(bounded(make_settings)) as server:
        reader, writer = await connect(server)
        writer.write(
            b"POST /api/orders/execute HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"type": "'
        )
        assert_refused(await answer_then_close(reader), 408, "REQUEST_TIMEOUT")
        writer.close()
        async with httpx.AsyncClient(base_url=server.http_url, timeout=5) as http:
            assert (await http.get("/health")).status_code == 200
    # The request cut short is no error of the API's: no traceback in its log.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response on a kept-alive connection: its status and body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), PROMPTLY)
    lines = head.decode().split("\r\n")
    length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-l"))
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def test_a_keep_alive_client_pausing_between_requests_is_served_on_one_connection(
    make_settings: MakeSettings,
) -> None:
    async with running_api(bounded(make_settings)) as server:
        reader, writer = await connect(server)
        for _ in range(5):  # 5 pauses of 0.6 TIMEOUT: 3 TIMEOUTs on one connection in all
            writer.write(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            status, _ = await read_answer(reader)
            assert status == 200
            await asyncio.sleep(0.6 * TIMEOUT)  # deliberate: the client idles between requests
        writer.write(b"GET /hea")  # a request sent in two parts, with a pause shorter than TIMEOUT
        await asyncio.sleep(0.6 * TIMEOUT)  # deliberate: a slow client, but not too slow
        writer.write(b"lth HTTP/1.1\r\nHost: a\r\n\r\n")
        assert (await read_answer(reader))[0] == 200
        writer.close()


async def test_the_next_request_on_a_kept_alive_connection_is_timed_too(
    make_settings: MakeSettings,
) -> None:
    async with running_api(bounded(make_settings)) as server:
        reader, writer = await connect(server)
        writer.write(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        assert (await read_answer(reader))[0] == 200
        writer.write(b"GET /health HTTP/1.1\r\nHo")
        assert_refused(await answer_then_close(reader), 408, "REQUEST_TIMEOUT")
        writer.close()


def websocket_request(path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    "request_bytes",
    [
        websocket_request("/api/orders/stream/all?x=" + "a" * 9_000),
        b"GET /health?x=" + b"a" * 9_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
    ids=["websocket", "http"],
)
async def test_a_url_over_8_kib_is_answered_414_and_closed(
    make_settings: MakeSettings, request_bytes: bytes
) -> None:
    async with running_api(bounded(make_settings)) as server:
        reader, writer = await connect(server)
        writer.write(request_bytes)
        assert_refused(await answer_then_close(reader), 414, "URI_TOO_LONG")
        writer.close()


async def test_headers_over_the_bound_are_answered_431_and_closed(
    make_settings: MakeSettings,
) -> None:
    async with running_api(make_settings()) as server:  # the default timeouts: no 408 first
        reader, writer = await connect(server)
        writer.write(b"GET /health HTTP/1.1\r\nHost: a\r\n")
        for number in range(200):  # 200 KiB of headers, still sent after the refusal
            writer.write(b"X-Filler-%d: %s\r\n" % (number, b"a" * 1_024))
            await writer.drain()  # the client learns the answer, not a reset connection
        assert_refused(await answer_then_close(reader), 431, "HEADERS_TOO_LARGE")
        writer.close()


FLOOD = 200


@pytest.mark.parametrize(
    ("max_connections", "meanwhile"), [(4_096, 200), (FLOOD // 2, 503)], ids=["below", "above"]
)
async def test_a_flood_of_slow_clients_is_cleared_by_the_timeout(
    make_settings: MakeSettings, max_connections: int, meanwhile: int
) -> None:
    """A slow-headers flood: below `api_max_connections` the API serves meanwhile, past it
    the API refuses meanwhile; either way the timeout disconnects the flood, and it serves."""
    settings = bounded(make_settings, api_max_connections=max_connections)
    async with running_api(settings) as server:
        flood = [await connect(server) for _ in range(FLOOD)]
        for _, writer in flood:
            writer.write(b"GET /health HTTP/1.1\r\nHost: a\r\n")
        async with httpx.AsyncClient(base_url=server.http_url, timeout=5) as http:
            assert (await http.get("/health")).status_code == meanwhile
        answers = await asyncio.gather(*(answer_then_close(reader) for reader, _ in flood))
        assert {status for status, _, _ in answers} == {408}
        for _, writer in flood:
            writer.close()

        async def healthy() -> bool:
            async with httpx.AsyncClient(base_url=server.http_url, timeout=5) as http:
                return (await http.get("/health")).status_code == 200

        await eventually(healthy, what="/health to answer 200 after the flood")
