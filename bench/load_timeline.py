"""An HTTP load's course second by second: answers per second and latency p50/p99 of the answers
that arrived in each second of the load (the last second may be a part of one), from what the
load generator recorded. Suites keep it under a key ending in `timeline`; `--plot` draws those."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.http_load import LoadResult
from bench.percentile import percentile

TIMELINE_SUFFIX = "timeline"


def timeline(result: LoadResult) -> list[dict[str, Any]]:
    """One bucket a second: `second` (1 for the first), `per_s`, `p50_ms`, `p99_ms`. A last part
    of a second shorter than half of one joins the second before it (a few answers in a sliver
    of time make no rate); a second in which no answer arrived is left out."""
    count = max(1, round(result.elapsed_s))
    buckets: dict[int, list[float]] = {}
    for answered, latency in zip(result.answered_s, result.latencies_ms, strict=True):
        buckets.setdefault(min(int(answered), count - 1), []).append(latency)
    return [
        {
            "second": second + 1,
            "per_s": round(len(latencies) / _width(second, count, result.elapsed_s)),
            "p50_ms": round(percentile(latencies, 0.50), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2),
        }
        for second, latencies in sorted(buckets.items())
    ]


def _width(second: int, count: int, elapsed_s: float) -> float:
    """How long bucket `second` of `count` lasted: a second, but for the last one."""
    return 1.0 if second < count - 1 else max(elapsed_s - second, 1e-3)


def timelines(figures: dict[str, Any], path: str = "") -> Iterator[tuple[str, list[Any]]]:
    """Every timeline in a run's figures, named by its path without the suffix:
    `http.post_order` for `{"http": {"post_order": {"timeline": […]}}}`."""
    for name, value in figures.items():
        if isinstance(value, dict):
            yield from timelines(value, f"{path}{name}.")
        elif name.endswith(TIMELINE_SUFFIX) and isinstance(value, list) and value:
            label = f"{path}{name.removesuffix(TIMELINE_SUFFIX).rstrip('_')}".rstrip(".")
            yield label, value
