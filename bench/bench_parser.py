"""The `oee bench` command line: the suites to choose from, each with what it measures, and the
options the suites read (`bench.suites.BenchOptions`)."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from bench.suites import SUITES, BenchOptions


def _counts(text: str) -> tuple[int, ...]:
    """`1,2` → (1, 2): process counts, each at least one."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}"
        ) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"every count must be at least 1: {text!r}")
    return counts


def _suite_list() -> str:
    """The suites and what each measures, for the end of `oee bench --help`."""
    listed = [*((name, text) for name, (_, text) in SUITES.items()), ("all", "every suite above")]
    lines = ["suites:"]
    for name, text in listed:
        lines += textwrap.wrap(
            text, 96, initial_indent=f"  {name:<11} ", subsequent_indent=" " * 14
        )
    return "\n".join(lines)


def add_bench_parser(commands: Any) -> argparse.ArgumentParser:
    """The `bench` subcommand on `commands` (the `oee` parser's subparsers)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "bench",
        help="run benchmarks and print JSON and a table",
        description="Run benchmark suites, or all of them, against REDIS_URL and DATABASE_URL"
        " (embedded servers when unset) and print the figures as JSON on stdout and as a table"
        " on stderr.",
        epilog=_suite_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "suite",
        nargs="*",
        default=["all"],
        choices=["all", *SUITES],
        metavar="SUITE",
        help=f"which suites, in order: all (the default), or some of {', '.join(SUITES)}",
    )
    parser.add_argument("--output", metavar="FILE", help="also write the JSON figures to FILE")
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw the HTTP loads (api, health, http, query) and e2e's confirmations second by"
        " second to FILE.png: answers/s, latency p50 and p99",
    )
    defaults = BenchOptions()

    def option(flag: str, default: Any, text: str, **kwargs: Any) -> None:
        if isinstance(default, tuple):  # a string default goes through `type` like an argument
            default, kwargs["type"], kwargs["metavar"] = ",".join(map(str, default)), _counts, "1,2"
        parser.add_argument(flag, default=default, help=f"{text} (default: %(default)s)", **kwargs)

    option(
        "--events",
        defaults.events,
        "eventlog, projection, archive: events in the log; partitions: orders appended",
        type=int,
        metavar="N",
    )
    option("--projectors", defaults.projectors, "projection: counts of projector processes")
    option("--batch-size", defaults.batch_size, "projection: events a batch", type=int, metavar="N")
    option(
        "--orders",
        defaults.orders,
        "execution, market: orders placed; query: orders projected",
        type=int,
        metavar="N",
    )
    option("--processors", defaults.processors, "execution: counts of processor processes")
    option(
        "--seconds",
        defaults.seconds,
        "api, query, health, bounded: seconds a load runs",
        type=float,
        metavar="S",
    )
    option("--clients", defaults.clients, "websocket: sockets", type=int, metavar="N")
    option("--runs", defaults.runs, "startup: cold and warm starts", type=int, metavar="N")
    option("--resting", defaults.resting, "resting: limit orders resting", type=int, metavar="N")
    option(
        "--rate",
        defaults.rate,
        "bounded: orders placed per second (100 unless given); e2e: the full rate (1,000)",
        type=int,
        metavar="N",
    )
    option("--backlog", defaults.backlog, "health: orders waiting", type=int, metavar="N")
    option("--url", defaults.url, "http: the base URL to load (default: an oee api of its own)")
    parser.add_argument(
        "--keys",
        action="store_true",
        help="api, query: API keys on (placements with a client's key, GETs with an operator's)",
    )
    return parser
