"""A consumer configuration fast enough for tests: small batches, short blocks, quick reclaims."""

from __future__ import annotations

from typing import Any

from eventlog.consumer_config import ConsumerConfig

TEST_GROUP = "test-group"


def quick_config(name: str, **overrides: Any) -> ConsumerConfig:
    values: dict[str, Any] = {
        "group": TEST_GROUP,
        "name": name,
        "batch_size": 50,
        "block_ms": 20,
        "claim_idle_ms": 100,
        "max_deliveries": 50,
        "failure_backoff_s": 0.001,
    }
    values.update(overrides)
    return ConsumerConfig(**values)
