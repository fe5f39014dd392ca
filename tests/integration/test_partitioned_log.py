"""Appends and one order's reads on a log of several partitions, on one Redis and on the test
cluster: each order lives in one partition, with its keys in that partition's slot; a position is
unique across the log and names its partition; a claim and its order share a partition; the
partitions land on every master of the cluster."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from commands.order_intake import OrderIntake
from eventlog.append import AppendRequest, Claim, ClaimTaken, ConcurrencyError, EventAppender
from eventlog.connections import redis_client
from eventlog.keys import Keys, PartitionedLogError
from eventlog.partitions import partition_of_position
from eventlog.reading import order_sequence, read_firsts, read_order
from eventlog.settings import Settings
from tests.support.factories import order_placed, routing_started
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too

PARTITIONS = 4
ORDERS = 400


@pytest.fixture
def parted(keys: Keys) -> Keys:
    return dataclasses.replace(keys, partitions=PARTITIONS)


async def _entries(redis: aioredis.Redis, stream: str) -> list[tuple[str, dict[bytes, bytes]]]:
    found: Any = await redis.xrange(stream)
    return [(position.decode(), fields) for position, fields in found]


async def test_each_order_lives_in_its_partition_and_positions_name_their_partition(
    redis: aioredis.Redis, parted: Keys
) -> None:
    appender = EventAppender(redis, parted)
    placed = [order_placed() for _ in range(ORDERS)]
    results = await appender.append_many([AppendRequest([e], 0) for e in placed])
    follow = [routing_started(e.order_id, sequence=2) for e in placed]
    await appender.append_many([AppendRequest([e], 1) for e in follow])

    positions: list[str] = []
    for partition, stream in enumerate(parted.streams):
        entries = await _entries(redis, stream)
        for position, fields in entries:
            assert parted.partition_of(fields[b"order_id"].decode()) == partition
            assert partition_of_position(position, PARTITIONS) == partition
        positions += [position for position, _ in entries]
    assert len(positions) == len(set(positions)) == 2 * ORDERS  # unique across the log
    # Every partition is used, about evenly (crc32 of the ids).
    counts = Counter(parted.partition_of(e.order_id) for e in placed)
    assert len(counts) == PARTITIONS
    assert min(counts.values()) > ORDERS / PARTITIONS / 2
    # The position append answered is where the event is, and each order reads in sequence.
    for event, result in zip(placed[:50], results[:50], strict=True):
        assert isinstance(result, list)
        history = await read_order(redis, parted, event.order_id)
        assert [r.event.sequence for r in history] == [1, 2]
        assert history[0].position == result[0]
        assert await order_sequence(redis, parted, event.order_id) == 2
    firsts = await read_firsts(redis, parted, [e.order_id for e in placed])
    assert {order_id: r.event.type for order_id, r in firsts.items()} == {
        e.order_id: "OrderPlaced" for e in placed
    }


async def test_a_stale_sequence_is_refused_in_a_partitioned_log_as_in_one_stream(
    redis: aioredis.Redis, parted: Keys
) -> None:
    appender = EventAppender(redis, parted)
    event = order_placed()
    await appender.append([event], expected_sequence=0)
    with pytest.raises(ConcurrencyError):
        await appender.append([order_placed(order_id=event.order_id)], expected_sequence=0)
    assert await order_sequence(redis, parted, event.order_id) == 1


async def test_a_placement_under_an_idempotency_key_lives_in_its_claim_partition(
    redis: aioredis.Redis, parted: Keys, settings: Settings
) -> None:
    """On a cluster a claim in another slot than the order's stream would be refused
    (CROSSSLOT): the intake places the order in the claim's partition."""
    intake = OrderIntake(redis, EventAppender(redis, parted), parted, settings)
    body = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
    for n in range(12):
        key = f"order-key-{n:04d}-{uuid.uuid4().hex}"
        placed = await intake.place(body, client_id=f"client-{n}", idempotency_key=key)
        again = await intake.place(body, client_id=f"client-{n}", idempotency_key=key)
        assert again.replayed
        assert again.order_id == placed.order_id
        assert placed.position is not None
        assert partition_of_position(placed.position, PARTITIONS) == parted.partition_of(
            placed.order_id
        )
    # The same claim, asked again with another order: nothing appended.
    claim = Claim(parted.idempotency("c", "d"), b"first", 60)
    partition = parted.claim_partition("c", "d")
    appender = EventAppender(redis, parted)
    first = order_placed(order_id=_id_in(parted, partition))
    assert isinstance(await appender.append([first], expected_sequence=0, claim=claim), list)
    second = order_placed(order_id=_id_in(parted, partition))
    taken = await appender.append([second], expected_sequence=0, claim=claim)
    assert taken == ClaimTaken(b"first")
    assert await order_sequence(redis, parted, second.order_id) == 0


def _id_in(keys: Keys, partition: int) -> uuid.UUID:
    while True:
        order_id = uuid.uuid4()
        if keys.partition_of(order_id) == partition:
            return order_id


def test_an_order_s_keys_share_its_partition_s_slot_and_the_one_stream_is_refused(
    parted: Keys,
) -> None:
    tagged = dataclasses.replace(parted, hash_tagged=True)
    order_id = uuid.uuid4()
    partition = tagged.partition_of(order_id)
    slot = key_slot(tagged.stream(partition).encode())
    assert key_slot(tagged.order_positions(order_id).encode()) == slot
    client, digest = "client", "digest"
    claim_slot = key_slot(tagged.idempotency(client, digest).encode())
    assert claim_slot == key_slot(tagged.stream(tagged.claim_partition(client, digest)).encode())
    with pytest.raises(PartitionedLogError):
        _ = tagged.events  # every reader of the one stream is told, not misled


async def test_on_the_cluster_the_partitions_land_on_every_master(
    cluster_url: str, make_settings: MakeSettings
) -> None:
    settings = make_settings(redis_cluster_url=cluster_url, redis_url=None)
    keys = dataclasses.replace(settings.log_keys(), partitions=PARTITIONS)
    redis = redis_client(settings)
    try:
        appender = EventAppender(redis, keys)
        await appender.append_many([AppendRequest([order_placed()], 0) for _ in range(200)])
        holders: Counter[str] = Counter()
        for stream in keys.streams:
            node: Any = redis.get_node_from_key(stream)  # type: ignore[attr-defined]
            holders[node.name] += int(await redis.xlen(stream))
        assert len(holders) == 3, holders  # the three masters
        assert sum(holders.values()) == 200
    finally:
        async for key in redis.scan_iter(match=keys.all()):
            await redis.unlink(key)
        await redis.aclose()
