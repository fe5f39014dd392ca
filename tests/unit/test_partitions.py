"""Which partition an order and a position belong to, and where the partitions' tags put them on
a cluster whose masters hold equal slot ranges."""

from __future__ import annotations

import uuid

import pytest
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from eventlog.keys import Keys
from eventlog.partitions import (
    order_id_in,
    partition_of,
    partition_of_position,
    partition_tag,
)


def _masters_holding(partitions: int, masters: int) -> list[int]:
    """How many partitions each of `masters` equal slot ranges holds."""
    held = [0] * masters
    for partition in range(partitions):
        slot = key_slot(partition_tag("oee", partition, partitions).encode())
        held[slot * masters // REDIS_CLUSTER_HASH_SLOTS] += 1
    return held


@pytest.mark.parametrize(
    ("partitions", "expected"), [(3, [1, 1, 1]), (4, [1, 2, 1]), (8, [3, 2, 3])]
)
def test_partitions_spread_over_three_masters_as_evenly_as_their_number_allows(
    partitions: int, expected: list[int]
) -> None:
    assert _masters_holding(partitions, 3) == expected


def test_an_order_s_partition_is_fixed_and_new_ids_can_be_made_in_a_given_one() -> None:
    order_id = uuid.uuid4()
    assert partition_of(order_id, 8) == partition_of(uuid.UUID(str(order_id)), 8)
    assert partition_of(order_id, 1) == 0
    for partition in range(8):
        assert partition_of(order_id_in(partition, 8), 8) == partition


def test_a_position_names_its_partition() -> None:
    assert partition_of_position("1796684204731-11", 4) == 3
    assert partition_of_position("1796684204731-0", 4) == 0


def test_one_partition_keeps_every_name_and_the_pattern_covers_the_partitions() -> None:
    one, parted = Keys("oee"), Keys("oee", partitions=4)
    assert partition_tag("oee", 0, 1) == "oee"
    assert one.events == one.stream(0) == "oee:events"
    assert one.order_positions("4b6f3c1e-0d7a-4c55-9c59-1c7a0f3f1e2d").startswith("oee:order:")
    assert all(stream.startswith("oee.") for stream in parted.streams)
    assert one.all() == "oee[:.]*"
    assert Keys("oee", hash_tagged=True).all() == "{oee[}.]*"
