"""Redis's own XADD rate on this machine, the ceiling of the log's appends: XADDs of one entry
(our event's fields, at its size) to a scratch stream, 1,000 a round trip from four connections
at once. Each round is encoded once beforehand and its replies are counted by hiredis's parser
on bare sockets, so that the client costs next to nothing per command (redis-py's await per
reply held the figure at about a fifth of what Redis takes). The stream is deleted afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import hiredis
import redis.asyncio as aioredis

PIPELINE = 1_000
WRITERS = 4
READ_BYTES = 1 << 16


class RedisCeilingError(RuntimeError):
    def __init__(self, stream: str, reply: object) -> None:
        super().__init__(f"the XADD ceiling on {stream} got {reply!r} from Redis")


def _command(*parts: str | bytes) -> bytes:
    """One command in Redis's protocol (RESP): an array of bulk strings."""
    encoded = [p.encode() if isinstance(p, str) else p for p in parts]
    return b"".join(
        [f"*{len(encoded)}\r\n".encode(), *(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)]
    )


class _Socket:
    """A bare connection to Redis: commands out as bytes, replies counted as they arrive."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.replies = hiredis.Reader()

    @classmethod
    async def open(cls, redis_url: str, stream: str) -> _Socket:
        """Connected, authenticated and on the URL's database (redis:// URLs only)."""
        url = urlsplit(redis_url)
        if url.scheme != "redis":
            raise RedisCeilingError(stream, f"a {url.scheme}:// URL (only redis:// is spoken)")
        socket = cls(*await asyncio.open_connection(url.hostname, url.port or 6379))
        setup: list[bytes] = []
        if url.password:
            user = [unquote(url.username)] if url.username else []
            setup.append(_command("AUTH", *user, unquote(url.password)))
        if url.path.strip("/"):
            setup.append(_command("SELECT", url.path.strip("/")))
        if setup:
            await socket.exchange(b"".join(setup), len(setup), stream)
        return socket

    async def exchange(self, commands: bytes, count: int, stream: str) -> None:
        """Send `commands`, then wait for their `count` replies; an error reply raises."""
        self.writer.write(commands)
        while count:
            reply = self.replies.gets()
            if reply is False:
                data = await self.reader.read(READ_BYTES)
                if not data:
                    raise RedisCeilingError(stream, "a closed connection")
                self.replies.feed(data)
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise RedisCeilingError(stream, reply)
            count -= 1

    def close(self) -> None:
        self.writer.close()


async def _rounds(socket: _Socket, stream: str, round_trip: bytes, rounds: int) -> None:
    for _ in range(rounds):
        await socket.exchange(round_trip, PIPELINE, stream)


async def xadd_per_second(
    redis_url: str, stream: str, entry: dict[bytes, bytes], count: int
) -> float:
    """XADDs per second of `entry` to `stream` (deleted afterwards) on the Redis at
    `redis_url`, about `count` of them in rounds of PIPELINE."""
    fields: Sequence[bytes] = [part for pair in entry.items() for part in pair]
    round_trip = _command("XADD", stream, "*", *fields) * PIPELINE
    rounds = max(1, count // PIPELINE)
    shares = [len(range(w, rounds, WRITERS)) for w in range(min(WRITERS, rounds))]
    sockets: list[_Socket] = []
    redis = aioredis.Redis.from_url(redis_url)
    try:
        for _ in shares:
            sockets.append(await _Socket.open(redis_url, stream))
        started = time.perf_counter()
        await asyncio.gather(
            *(_rounds(s, stream, round_trip, n) for s, n in zip(sockets, shares, strict=True))
        )
        elapsed = time.perf_counter() - started
    finally:
        for socket in sockets:
            socket.close()
        await redis.delete(stream)
        await redis.aclose()
    return rounds * PIPELINE / elapsed
