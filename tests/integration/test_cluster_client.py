"""The cluster client the engine uses with REDIS_CLUSTER_URL, against the test cluster: every key
of a deployment in one slot, many commands at once waiting their turn rather than failing, and
an unreachable cluster reported as an outage (a ConnectionError), as a single Redis's is."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from bench.process_readings import free_port
from eventlog.cluster_client import IN_FLIGHT
from eventlog.connections import redis_client
from eventlog.settings import Settings
from eventlog.store_errors import REDIS_UNAVAILABLE


def test_every_key_of_a_deployment_on_a_cluster_hashes_to_one_slot() -> None:
    keys = Settings(redis_cluster_url="redis://127.0.0.1:7000", key_prefix="desk").log_keys()
    names = [
        keys.events,
        keys.order_positions("4b6f3c1e-0d7a-4c55-9c59-1c7a0f3f1e2d"),
        keys.idempotency("client", "digest"),
        keys.submission("4b6f3c1e-0d7a-4c55-9c59-1c7a0f3f1e2d"),
        keys.dead_letters,
        keys.entry_errors("execution"),
        keys.pool("raydium", "SOL/USDC"),
        keys.heartbeats,
    ]
    assert all(name.startswith("{desk}:") for name in names)
    assert len({key_slot(name.encode()) for name in names}) == 1
    single = Settings(redis_url="redis://127.0.0.1:6379", key_prefix="desk").log_keys()
    assert single.events == "desk:events"  # one Redis keeps the names it always had


async def test_far_more_commands_at_once_than_a_node_has_connections_all_succeed(
    cluster_url: str,
) -> None:
    redis = redis_client(Settings(redis_cluster_url=cluster_url, key_prefix="burst"))
    key = "{burst}:counter"
    try:
        await asyncio.gather(*(redis.incr(key) for _ in range(4 * IN_FLIGHT)))
        await asyncio.gather(*(_two_increments(redis, key) for _ in range(300)))
        counted: Any = await redis.get(key)
        assert int(counted) == 4 * IN_FLIGHT + 600
    finally:
        await redis.delete(key)
        await redis.aclose()


async def _two_increments(redis: aioredis.Redis, key: str) -> None:
    pipe = redis.pipeline(transaction=False)
    pipe.incr(key)
    pipe.incr(key)
    await pipe.execute()


async def _pipeline(redis: aioredis.Redis) -> None:
    pipe = redis.pipeline(transaction=True)
    pipe.get("{x}:a")
    pipe.get("{x}:b")
    await pipe.execute()


async def _script(redis: aioredis.Redis) -> None:
    await redis.register_script("return 1")(keys=["{x}:a"])


async def _command(redis: aioredis.Redis) -> None:
    await redis.get("{x}:a")


@pytest.mark.parametrize("call", [_command, _pipeline, _script])
async def test_a_cluster_no_node_of_which_answers_is_an_outage_not_an_error(
    call: Callable[[aioredis.Redis], Awaitable[None]],
) -> None:
    redis = redis_client(Settings(redis_cluster_url=f"redis://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(REDIS_UNAVAILABLE):
            await call(redis)
    finally:
        await redis.aclose()


async def _read_until_cancelled(redis: aioredis.Redis, stream: str, blocking: bool) -> None:
    while True:
        if blocking:
            await redis.xreadgroup("g", "c", {stream: ">"}, count=10, block=20)
        else:
            await redis.xrange(stream, count=10)


@pytest.mark.parametrize("blocking", [False, True], ids=["reads", "blocking-reads"])
async def test_callers_cancelled_mid_command_end_at_once_and_the_client_goes_on(
    cluster_url: str, blocking: bool
) -> None:
    """redis-py's own cluster client left such callers waiting for ever (seen in round 0)."""
    redis = redis_client(Settings(redis_cluster_url=cluster_url, key_prefix="cancel"))
    streams = [f"{{cancel.{n}}}:events" for n in range(4)]
    try:
        for stream in streams:
            await redis.xgroup_create(stream, "g", id="0", mkstream=True)
        for _ in range(30):
            readers = [
                asyncio.create_task(_read_until_cancelled(redis, stream, blocking))
                for stream in streams
                for _ in range(3)
            ]
            for _ in range(3):
                await asyncio.sleep(0)  # deliberate: let the reads be sent, then cancel them
            for reader in readers:
                reader.cancel()
            _, waiting = await asyncio.wait(readers, timeout=5)
            assert not waiting, f"{len(waiting)} callers still waiting after their cancellation"
        assert await redis.xlen(streams[0]) == 0  # and the client still answers
    finally:
        for stream in streams:
            await redis.delete(stream)
        await redis.aclose()
