"""An HTTP load's second-by-second course: each answer counted in the second it arrived, a last
sliver of a second counted with the second before it, and every timeline of a run found by name."""

from __future__ import annotations

from bench.http_load import LoadResult
from bench.load_timeline import timeline, timelines


def _load(answers: list[tuple[float, float]], elapsed_s: float) -> LoadResult:
    """A load whose answers arrived at (seconds from its start, latency in ms)."""
    return LoadResult(
        sent=len(answers),
        statuses={200: len(answers)},
        latencies_ms=[latency for _, latency in answers],
        answered_s=[at for at, _ in answers],
        elapsed_s=elapsed_s,
    )


def test_each_answer_counts_in_the_second_it_arrived() -> None:
    answers = [(0.1, 1.0), (0.5, 3.0), (0.9, 2.0), (1.2, 10.0), (1.8, 20.0)]
    assert timeline(_load(answers, 2.0)) == [
        {"second": 1, "per_s": 3, "p50_ms": 2.0, "p99_ms": 3.0},
        {"second": 2, "per_s": 2, "p50_ms": 20.0, "p99_ms": 20.0},
    ]


def test_a_last_sliver_of_a_second_joins_the_second_before_it() -> None:
    answers = [(0.5, 1.0), (1.5, 1.0), (2.05, 9.0)]
    buckets = timeline(_load(answers, 2.1))
    assert [b["second"] for b in buckets] == [1, 2]
    assert buckets[-1]["per_s"] == round(2 / 1.1)
    assert buckets[-1]["p99_ms"] == 9.0


def test_a_load_shorter_than_a_second_is_one_bucket_at_its_rate() -> None:
    assert timeline(_load([(0.1, 1.0), (0.2, 1.0)], 0.4)) == [
        {"second": 1, "per_s": 5, "p50_ms": 1.0, "p99_ms": 1.0}
    ]


def test_every_timeline_of_a_run_is_found_and_named_by_its_path() -> None:
    bucket = {"second": 1, "per_s": 1, "p50_ms": 1.0, "p99_ms": 1.0}
    run = {
        "http": {"post_order": {"per_s": 1, "timeline": [bucket]}, "url": "http://x"},
        "api": {"saturation_timeline": [bucket], "at_1000_per_s_timeline": []},
        "bounded": {"samples": [{"seconds": 10}]},
    }
    assert [name for name, _ in timelines(run)] == ["http.post_order", "api.saturation"]
