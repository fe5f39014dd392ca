"""The cyclic garbage collector's tuning for our long-lived and bulk work: far fewer collections.

Decoding and folding a log, or fanning an event out to 1,000 sockets, allocates many short-lived
container objects. With the default first threshold (700) young collections kept moving them to
the old generation and full collections rescanned everything alive: about a third of a replay's
CPU, and pauses of 78 to 268 ms every few seconds in an API process with 1,000 sockets (the
delivery latency's p99). Nothing here depends on prompt cycle collection (the objects die by
reference counting), so these parts freeze what start-up allocated and collect the young less
often; the old settings come back when they end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLD = 50_000  # replays and projectors: allocation bursts of whole batches
SERVING_THRESHOLD = 10_000  # an API process: enough that steady fan-out never collects


_active = 0  # how many `fewer_collections` blocks are open: only the outermost tunes and restores
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections(threshold: int = BULK_THRESHOLD) -> Iterator[None]:
    """Collect young objects after `threshold` more allocations than deallocations, and never
    rescan what exists now (modules, models, settings live as long as the process). Blocks may
    nest or overlap (in any order of leaving): the settings come back when the last one ends."""
    global _active, _saved
    if _active == 0:
        _saved = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(threshold, _saved[1], _saved[2])
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        if _active == 0:
            gc.set_threshold(*_saved)
            gc.unfreeze()
