"""What one consumer in a consumer group is: its group, its name and how it reads and retries.

Built from Settings by the composition root (`oee/`); tests and benchmarks build their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from eventlog.store_errors import REDIS_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class ConsumerConfig:
    group: str
    name: str
    batch_size: int = 500
    block_ms: int = 1_000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    health_ttl_seconds: int = 15
    # 1: the handler gets whole batches, one at a time. N > 1: each entry is handled on its own,
    # up to N at once, and acked as soon as it is done.
    parallel: int = 1
    # The first wait after a failure; it doubles with each failure in a row, up to two seconds.
    failure_backoff_s: float = 0.05
    # When set, only entries of these event types reach the handler; the others are acked
    # together, undecoded (the execution group reads every event but acts on a few).
    types: frozenset[str] | None = None
    # After a round that took in less than a whole batch, wait this long (or until stopped)
    # before reading again, so that a steady flow arrives in fewer, fuller batches: fewer
    # transactions per event for that much latency. 0 reads again at once.
    linger_ms: int = 0
    # Failures that mean a store is unreachable: retried in place, never held against the entry.
    infrastructure_errors: tuple[type[BaseException], ...] = REDIS_UNAVAILABLE


@dataclass(slots=True)
class ConsumerStats:
    handled: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0
    failures: int = 0
    skipped: int = 0
    store_retries: int = 0  # rounds retried because a store was unreachable or full
    started_at: float = field(default_factory=time.time)
