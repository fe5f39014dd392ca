"""The `oee` command line: parses it and starts the part asked for, wired by `oee.wiring`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from bench.bench_parser import add_bench_parser
from eventlog.setting_fields import SETTING_GROUPS
from eventlog.setting_sources import env_name
from eventlog.settings import Settings, SettingsError
from eventlog.settings_help import settings_by_group
from eventlog.store_errors import STORES_UNAVAILABLE
from oee.keys_command import add_keys_parser
from oee.runtime import configure_logging, run_until_signalled
from projections.registry import PROJECTIONS


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from oee.up import run_up

    return run_up(settings)


def _api(settings: Settings, args: argparse.Namespace) -> int:
    from api.serving import serve
    from oee.wiring import api_app

    if args.workers > 1:
        from oee.api_workers import PortInUseError, serve_workers

        try:
            return serve_workers(settings, args.workers)
        except PortInUseError as exc:
            print(f"oee api: {exc}", file=sys.stderr)
            return 1
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


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from oee.keys_command import run_keys

    return asyncio.run(run_keys(settings, args))


def _health(settings: Settings, args: argparse.Namespace) -> int:
    from oee.liveness_probe import check_health

    return asyncio.run(check_health(settings, args.group, anywhere=args.anywhere))


def _bench(settings: Settings, args: argparse.Namespace) -> int:
    from bench.suites import run_bench

    return run_bench(settings, args)


# The settings each command reads, as groups or single fields of eventlog.settings. `up` and
# `bench` hand every setting on to the processes they start.
_READS: dict[str, tuple[str, ...]] = {
    "up": tuple(SETTING_GROUPS),
    "api": ("server", "stores", "logging", "orders", "intake", "api", "websocket"),
    "process": ("stores", "logging", "orders", "venues", "consumers"),
    "project": ("stores", "logging", "consumers", "projection"),
    "migrate": ("database_url", "logging"),
    "replay": ("stores", "logging", "projection"),
    "health": ("redis_url", "redis_cluster_url", "key_prefix", "logging"),
    "keys": ("redis_url", "redis_cluster_url", "key_prefix", "data_dir"),
    "bench": tuple(SETTING_GROUPS),
}

# Flags that set a setting, overriding its environment variable: (flag, field, type).
_FLAGS: dict[str, tuple[tuple[str, str, type], ...]] = {
    "up": (("--port", "port", int), ("--host", "host", str), ("--data-dir", "data_dir", Path)),
    "api": (("--port", "port", int), ("--host", "host", str)),
}


def settings_help(command: str) -> str:
    """The settings `command` reads, by group, each with its variable, meaning and default."""
    lines = [
        "settings (environment variables; also read from .env in the working folder,"
        " the environment winning):"
    ]
    for group, fields in settings_by_group(*_READS[command]).items():
        lines.append(f"  {SETTING_GROUPS[group]}:")
        for field in fields:
            info = Settings.model_fields[field]
            default = "unset" if info.default is None else info.default
            lines += textwrap.wrap(
                f"{info.description} (default: {default})",
                width=100,
                initial_indent=f"    {env_name(field):<34} ",
                subsequent_indent=" " * 39,
            )
    return "\n".join(lines)


def _positive(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 64):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 64")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oee", description="Order execution engine")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        part: argparse.ArgumentParser = sub.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=settings_help(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for flag, field, kind in _FLAGS.get(name, ()):
            part.add_argument(
                flag,
                dest=field,
                type=kind,
                metavar=field.split("_")[-1].upper(),
                help=f"{Settings.model_fields[field].description} (overrides {env_name(field)})",
            )
        return part

    command("up", "run everything on this machine (embedded servers by default)")
    api = command("api", "run the HTTP and WebSocket API")
    api.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="API processes sharing the port, each a whole API (default: 1)",
    )
    for name, text in (("process", "run an execution processor"), ("project", "run projectors")):
        part = command(name, text)
        part.add_argument("--name", help="consumer name (default: host and pid)")
    command("migrate", "apply pending database migrations")
    replay = command("replay", "rebuild projections from the event log")
    replay.add_argument(
        "projections",
        nargs="*",
        metavar="PROJECTION",
        help=f"projections to rebuild, of: {', '.join(PROJECTIONS)} (default: all)",
    )
    add_keys_parser(command("keys", "make, list and revoke API keys"))
    health = command("health", "exit 0 when GROUP has a live consumer on this host")
    health.add_argument("group", help="consumer group, e.g. execution or projection:orders")
    health.add_argument("--anywhere", action="store_true", help="accept a consumer on any host")
    bench = add_bench_parser(sub)
    bench.epilog = f"{bench.epilog}\n\n{settings_help('bench')}"
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment (and .env), with the command's flags winning."""
    overrides = {
        field: getattr(args, field)
        for _, field, _ in _FLAGS.get(args.command, ())
        if getattr(args, field, None) is not None
    }
    return Settings.from_env(**overrides)


_COMMANDS = {
    "up": _up,
    "api": _api,
    "process": _process,
    "project": _project,
    "migrate": _migrate,
    "replay": _replay,
    "health": _health,
    "keys": _keys,
    "bench": _bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
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
    except Exception as exc:
        unreachable = _store_unreachable(exc)
        if unreachable is None:
            raise
        print(
            f"oee {args.command}: giving up, a store is unreachable: {unreachable}", file=sys.stderr
        )
        return 1


def _store_unreachable(exc: BaseException) -> BaseException | None:
    """`exc` (or, for a task group's errors, the first) when every error in it means a store
    could not be reached; None when any is something else."""
    if isinstance(exc, BaseExceptionGroup):
        found = [_store_unreachable(inner) for inner in exc.exceptions]
        return found[0] if found and all(found) else None
    return exc if isinstance(exc, STORES_UNAVAILABLE) else None
