"""Which partition of the log an order lives in, and each partition's hash tag.

An order lives in partition `crc32(order id) mod P`, for its whole life; every per-order key
carries its partition's tag, so each append stays one script on one slot. With one partition
the tag is the key prefix, as it always was. With more, partition p's tag is `<prefix>.<p>`,
extended if need be (`<prefix>.<p>~<n>`, the first n that fits) so that its slot lies near the
middle of the p-th of P equal slot ranges: a cluster whose masters hold equal ranges then gets
the partitions spread over its masters as evenly as their number allows.
"""

from __future__ import annotations

import itertools
import uuid
import zlib
from functools import cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

MAX_PARTITIONS = 1_024


def partition_of(order_id: uuid.UUID, partitions: int) -> int:
    """The partition `order_id` lives in."""
    return zlib.crc32(order_id.bytes) % partitions if partitions > 1 else 0


def partition_of_position(position: str, partitions: int) -> int:
    """The partition whose stream holds `position` (`<ms>-<seq>`, seq ≡ partition mod P)."""
    return int(position.rpartition("-")[2]) % partitions


def order_id_in(partition: int, partitions: int) -> uuid.UUID:
    """A new random order id that lives in `partition` (P tries on average)."""
    while True:
        order_id = uuid.uuid4()
        if partition_of(order_id, partitions) == partition:
            return order_id


@cache
def partition_tag(prefix: str, partition: int, partitions: int) -> str:
    """The hash tag of `partition` of `partitions` under `prefix`."""
    if partitions == 1:
        return prefix
    width = REDIS_CLUSTER_HASH_SLOTS / partitions
    middle = (partition + 0.5) * width
    base = f"{prefix}.{partition}"
    for n in itertools.count():
        tag = base if n == 0 else f"{base}~{n}"
        if abs(key_slot(tag.encode()) - middle) <= width / 8:
            return tag
    raise AssertionError("unreachable")
