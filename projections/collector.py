"""Garbage-collector settings for bulk work (a replay, a projector process): far fewer cyclic
collections.

Decoding and folding a log allocates millions of short-lived container objects; with the default
threshold the cyclic collector ran every 700 of them and rescanned the survivors, about a third of
replay's CPU. Nothing a replay or a projector makes depends on prompt cycle collection (its
objects are freed by reference counting), so they run with a much higher first-generation
threshold; the old settings come back when they end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLD = 50_000


@contextmanager
def fewer_collections(threshold: int = BULK_THRESHOLD) -> Iterator[None]:
    """Collect cycles every `threshold` allocations, and never rescan what exists now."""
    before = gc.get_threshold()
    gc.freeze()  # objects alive now (modules, models, settings) stay out of every collection
    gc.set_threshold(threshold, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
