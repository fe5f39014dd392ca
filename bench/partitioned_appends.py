"""Appends per second into a log of 1, 2, 4 and 8 partitions, on the Redis the settings name (one
server, or a cluster), and what each Redis server did meanwhile: on a cluster the commands per
master show whether the appends spread. Each count of partitions appends `events` new orders,
pipelined as `bench.eventlog` does, under a key prefix of its own."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import Any

from bench.eventlog import append_pipelined
from bench.redis_servers import delete_keys, load_between, server_load
from bench.scope import scope_tag_prefix
from eventlog.settings import Settings

PARTITION_COUNTS = (1, 2, 4, 8)


def bench_partitioned_appends(settings: Settings, events: int) -> dict[str, Any]:
    figures: dict[str, Any] = {"orders": events, "cluster": settings.clustered}
    for partitions in PARTITION_COUNTS:
        prefix = f"{scope_tag_prefix(settings)}{uuid.uuid4().hex[:8]}"
        keys = dataclasses.replace(settings.log_keys(), prefix=prefix, partitions=partitions)
        try:
            before = server_load(settings)
            rate = asyncio.run(append_pipelined(settings, keys, events))
            per_server = load_between(before, server_load(settings))
        finally:
            delete_keys(settings, prefix)
        figures[f"p{partitions}"] = {"appends_per_s": round(rate), "redis_servers": per_server}
    return figures
