"""`oee bench --plot FILE.png`: every HTTP load of a run drawn second by second, one row a load:
answers per second on the left, latency p50 and p99 on the right. Drawn by matplotlib's Agg
renderer (no display needed), which is imported only here, only when a plot is asked for."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bench.load_timeline import timelines

# The suites whose figures hold timelines (`bench.load_timeline`).
HTTP_LOAD_SUITES = frozenset({"api", "health", "http", "query", "e2e"})
ROW_INCHES = 2.2


class NothingToPlotError(ValueError):
    def __init__(self, suites: list[str]) -> None:
        super().__init__(f"no HTTP load to plot in {', '.join(suites)}")


def write_plot(results: dict[str, Any], file: Path) -> int:
    """Draw the timelines in `results` (a run's figures by suite) to `file` as PNG; returns how
    many loads were drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its font cache's INFO lines

    loads = list(timelines(results))
    if not loads:
        raise NothingToPlotError(list(results))
    figure = Figure(figsize=(11, 1 + ROW_INCHES * len(loads)), layout="constrained")
    FigureCanvasAgg(figure)
    rows = figure.subplots(len(loads), 2, squeeze=False)
    for (label, buckets), (rate, latency) in zip(loads, rows, strict=True):
        seconds = [b["second"] for b in buckets]
        rate.plot(seconds, [b["per_s"] for b in buckets], marker=".", color="tab:blue")
        rate.set_ylabel("answers/s")
        rate.set_ylim(bottom=0)
        rate.set_title(label, loc="left", fontsize="medium")
        latency.plot(seconds, [b["p50_ms"] for b in buckets], marker=".", label="p50")
        latency.plot(seconds, [b["p99_ms"] for b in buckets], marker=".", label="p99")
        latency.set_ylabel("ms")
        latency.set_ylim(bottom=0)
        latency.legend(loc="upper right", fontsize="small")
    for axes in rows.flat:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for axes in rows[-1]:
        axes.set_xlabel("second of the load")
    figure.suptitle(f"oee bench: {', '.join(results)}")
    figure.savefig(file, format="png", dpi=100)
    return len(loads)
