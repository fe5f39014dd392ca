"""The README's performance section is written from one benchmark run: the machine, then a row
per headline figure of each suite that ran, between the markers and nowhere else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.readme_section import BEGIN, END, MarkersMissingError, main, rewrite


def _load(per_s: float, ceiling: float | None = None) -> dict[str, Any]:
    figures: dict[str, Any] = {"per_s": per_s, "p50_ms": 1.5, "p99_ms": 4.25}
    if ceiling is not None:
        figures["of_ceiling"] = ceiling
    return figures


def _e2e(rate: int) -> dict[str, Any]:
    return {
        "offered_per_s": rate,
        "seconds": 60.0,
        "accepted_per_s": rate,
        "confirmed_per_s_while_offered": rate - 3,
        "unconfirmed_when_offer_ended": 12,
        "accept_to_confirmed_ws": {"p50_ms": 30.5, "p99_ms": 88.0},
        "accept_to_visible_get": {"p50_ms": 35.0, "p99_ms": 95.5},
        "cpu_seconds": {"api": 10.0, "postgres": 7.5},
        "peak_rss_mb": {"api": 101.2},
    }


RUN: dict[str, Any] = {
    "at": "2026-12-07T20:00:00+00:00",
    "machine": {
        "processor": "Some CPU @ 2.0GHz",
        "cpus": 2,
        "memory_gb": 23.5,
        "python": "3.11.7",
        "redis": "Redis 7.0.15",
        "postgres": "PostgreSQL 15.19",
    },
    "http": {
        "ceiling_fixed_get": _load(20_000),
        "ceiling_validated_post_xadd": _load(5_000),
        "post_order": _load(3_100, 0.62),
        "get_order": _load(15_432, 0.77),
        "health": _load(15_000, 0.75),
    },
    "e2e": {"full_rate": _e2e(1_000), "half_rate": _e2e(500)},
}


def test_the_section_names_the_machine_and_each_suites_figures() -> None:
    readme = f"# Title\n\n## Performance\n{BEGIN}\nold figures\n{END}\n\n## Next\n"
    written = rewrite(readme, RUN, Path("README.md"))
    assert written.startswith("# Title\n\n## Performance\n")
    assert written.endswith(f"{END}\n\n## Next\n")
    assert "old figures" not in written
    assert "on 2026-12-07: Some CPU @ 2.0GHz, 2 CPUs, 23.5 GB" in written
    assert "Redis 7.0.15, PostgreSQL 15.19" in written
    assert "| `GET /api/orders/{id}` of orders just placed | 15,432/s, p50 1.5 ms, p99 4.25 ms" in (
        written
    )
    assert "(0.77 of its ceiling)" in written
    assert "end to end at 1,000 orders/s offered for 60 s" in written
    assert "`oee bench e2e --rate 1000`" in written
    assert written.count("`oee bench e2e --rate 1000`") == 2  # the half rate is part of that run
    assert "`oee bench health`" not in written  # the health suite did not run


def test_writing_it_again_from_the_same_run_changes_nothing(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps(RUN), encoding="utf-8")
    readme.write_text(f"intro\n{BEGIN}\n{END}\nrest\n", encoding="utf-8")
    assert main([str(figures), str(readme)]) == 0
    once = readme.read_text(encoding="utf-8")
    assert main([str(figures), str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == once


def test_a_readme_without_the_markers_is_refused() -> None:
    with pytest.raises(MarkersMissingError):
        rewrite("# no section\n", RUN, Path("README.md"))
