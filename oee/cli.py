"""The `oee` command line: parses it and starts the part asked for, wired by `oee.wiring`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bench.suites import add_bench_parser
from eventlog.settings import Settings, SettingsError
from oee.runtime import configure_logging, run_until_signalled


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from oee.up import run_up

    return run_up(settings)


def _api(settings: Settings, args: argparse.Namespace) -> int:
    from api.serving import serve
    from oee.wiring import api_app

    serve(api_app(settings), settings)
    return 0


def _process(settings: Settings, args: argparse.Namespace) -> int:
    from oee.parts import run_processor

    return run_until_signalled(lambda stop: run_processor(settings, stop, name=args.name))


def _project(settings: Settings, args: argparse.Namespace) -> int:
    from eventlog.gc_tuning import fewer_collections
    from oee.parts import run_projectors

    with fewer_collections():  # a projector's garbage is freed by reference counting
        return run_until_signalled(lambda stop: run_projectors(settings, stop, name=args.name))


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from oee.server_waits import wait_for_postgres
    from schema.migrate import migrate

    url = settings.require_database_url()
    wait_for_postgres(url)
    applied = migrate(url)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "nothing pending"
    print(f"migrations applied: {names}")
    return 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from eventlog.gc_tuning import fewer_collections
    from oee.parts import run_replay

    with fewer_collections():
        report = asyncio.run(run_replay(settings, args.projections or None))
    print(report)
    return 0


def _health(settings: Settings, args: argparse.Namespace) -> int:
    from oee.liveness_probe import check_health

    return asyncio.run(check_health(settings, args.group, anywhere=args.anywhere))


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from bench.suites import run_bench

    return run_bench(settings, args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oee", description="Order execution engine")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run everything on this machine (embedded servers by default)")
    sub.add_parser("api", help="run the HTTP and WebSocket API")
    for name, text in (("process", "run an execution processor"), ("project", "run projectors")):
        part = sub.add_parser(name, help=text)
        part.add_argument("--name", help="consumer name (default: host and pid)")
    sub.add_parser("migrate", help="apply pending database migrations")
    replay = sub.add_parser("replay", help="rebuild projections from the event log")
    replay.add_argument("projections", nargs="*", help="projection names (default: all)")
    health = sub.add_parser("health", help="exit 0 when GROUP has a live consumer on this host")
    health.add_argument("group", help="consumer group, e.g. execution or projection:orders")
    health.add_argument("--anywhere", action="store_true", help="accept a consumer on any host")
    add_bench_parser(sub)
    return parser


_COMMANDS = {
    "up": _up,
    "api": _api,
    "process": _process,
    "project": _project,
    "migrate": _migrate,
    "replay": _replay,
    "health": _health,
    "bench": _bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"oee: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return _COMMANDS[args.command](settings, args)
    except SettingsError as exc:
        print(f"oee {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
