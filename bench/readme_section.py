"""The README's performance section, written from one `oee bench` run's JSON:

    oee bench health http e2e api query --output figures.json
    python -m bench.readme_section figures.json README.md

replaces what lies between the section's two markers with the machine and a table of the run's
headline figures (each suite that ran; a figure the run lacks is left out), so the README's
figures are always one run's, on a named machine.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

BEGIN = "<!-- performance: written by python -m bench.readme_section from one oee bench run -->"
END = "<!-- performance: end -->"

Row = tuple[str, str, str]  # what, figure, command


def _n(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"


def _load(figures: dict[str, Any]) -> str:
    text = f"{_n(figures['per_s'])}/s, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms"
    if "of_ceiling" in figures:
        text += f" ({figures['of_ceiling']:.2f} of its ceiling)"
    return text


def _health(f: dict[str, Any]) -> Iterator[Row]:
    command = "`oee bench health`"
    yield "bare Starlette GET of a fixed body (ceiling)", _load(f["ceiling_fixed_get"]), command
    yield "`GET /health`, fresh", _load(f["fresh"]), command
    backlog = f"`GET /health` with {_n(f['backlog_orders'])} orders waiting"
    yield backlog, _load(f["with_backlog"]), command


def _http(f: dict[str, Any]) -> Iterator[Row]:
    command = "`oee bench http`"
    if "ceiling_validated_post_xadd" in f:
        post = _load(f["ceiling_validated_post_xadd"])
        yield "bare Starlette POST: validation and one XADD (ceiling)", post, command
    yield (
        "`POST /api/orders/execute`, processor and projector running",
        _load(f["post_order"]),
        command,
    )
    yield "`GET /api/orders/{id}` of orders just placed", _load(f["get_order"]), command


def _e2e(f: dict[str, Any]) -> Iterator[Row]:
    for name in ("full_rate", "half_rate"):
        run = f[name]
        ws, visible = run["accept_to_confirmed_ws"], run["accept_to_visible_get"]
        cpu = ", ".join(f"{part} {seconds}" for part, seconds in run["cpu_seconds"].items())
        rss = ", ".join(f"{part} {mb}" for part, mb in run["peak_rss_mb"].items())
        yield (
            f"end to end at {_n(run['offered_per_s'])} orders/s offered for {run['seconds']:g} s"
            " (one API, one processor, one projector)",
            f"{_n(run['accepted_per_s'])} accepted/s, {_n(run['confirmed_per_s_while_offered'])}"
            f" confirmed/s, {_n(run['unconfirmed_when_offer_ended'])} unconfirmed when the offer"
            f" ended; accept → confirmed on the WebSocket p50 {ws['p50_ms']} / p99 {ws['p99_ms']}"
            f" ms, through GET p50 {visible['p50_ms']} / p99 {visible['p99_ms']} ms; CPU seconds"
            f" {cpu}; peak RSS MB {rss}",
            f"`oee bench e2e --rate {run['offered_per_s'] * (2 if name == 'half_rate' else 1):g}`",
        )


def _api(f: dict[str, Any]) -> Iterator[Row]:
    yield (
        "orders accepted at saturation, one API process, 64 connections",
        f"{_n(f['accept_per_s_saturation_64_conns'])}/s; at 1,000/s offered p50"
        f" {f['accept_p50_ms_at_1000_per_s']} / p99 {f['accept_p99_ms_at_1000_per_s']} ms",
        "`oee bench api`",
    )


def _query(f: dict[str, Any]) -> Iterator[Row]:
    yield (
        f"`GET /api/orders/{{id}}` over {_n(f['orders'])} projected orders, 32 connections",
        f"{_n(f['get_order_per_s_saturation_32_conns'])}/s; at 1,000/s offered p50"
        f" {f['get_order_p50_ms_at_1000_per_s']} / p99 {f['get_order_p99_ms_at_1000_per_s']} ms",
        "`oee bench query`",
    )


SECTIONS: dict[str, Callable[[dict[str, Any]], Iterator[Row]]] = {
    "health": _health,
    "http": _http,
    "e2e": _e2e,
    "api": _api,
    "query": _query,
}


def render(run: dict[str, Any]) -> str:
    machine = run.get("machine", {})
    lines = [
        f"Measured in one `oee bench` run on {run.get('at', '?')[:10]}:"
        f" {machine.get('processor', '?')}, {machine.get('cpus', '?')} CPUs,"
        f" {machine.get('memory_gb', '?')} GB, Python {machine.get('python', '?')},"
        f" {machine.get('redis', '?')}, {machine.get('postgres', '?')}; the load generator runs"
        " on the same cores as the engine it measures.",
        "",
        "| what | figure | command |",
        "|---|---|---|",
    ]
    for suite, rows in SECTIONS.items():
        if suite in run:
            lines += [
                f"| {what} | {figure} | {command} |" for what, figure, command in rows(run[suite])
            ]
    return "\n".join(lines)


class MarkersMissingError(ValueError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} lacks the performance section's markers:\n{BEGIN}\n{END}")


def rewrite(readme: str, run: dict[str, Any], path: Path) -> str:
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise MarkersMissingError(path)
    return f"{readme[: start + len(BEGIN)]}\n{render(run)}\n{readme[end:]}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.readme_section FIGURES.json README.md", file=sys.stderr)
        return 2
    run = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    path = Path(argv[1])
    try:
        path.write_text(rewrite(path.read_text(encoding="utf-8"), run, path), encoding="utf-8")
    except MarkersMissingError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
