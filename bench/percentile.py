"""The one percentile of the benchmarks: the nearest rank among the recorded samples."""

from __future__ import annotations

from collections.abc import Iterable


def percentile(samples: Iterable[float], q: float) -> float:
    """The sample that fraction `q` (0 to 1) of the samples lie below: `q=0.99` is the p99.
    No samples is an error, not a figure: a benchmark that recorded none went wrong."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples to take a percentile of")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
