"""`python -m processors`: one processor process, stopped cleanly by SIGTERM or SIGINT.

Settings come from the environment, or whole from `--settings-json` (benchmarks and tests).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from eventlog.settings import Settings, SettingsError
from processors.run import run_processors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m processors", description=__doc__)
    parser.add_argument("--name", help="consumer name (default: host-pid)")
    parser.add_argument("--settings-json", help="the whole Settings object as JSON")
    args = parser.parse_args(argv)
    try:
        if args.settings_json:
            settings = Settings.model_validate_json(args.settings_json)
        else:
            settings = Settings.from_env()
    except (SettingsError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s",
    )
    _run_loop(_serve(settings, args.name))
    return 0


async def _serve(settings: Settings, name: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_processors(settings, stop, name=name)


def _run_loop(main_coroutine: Coroutine[Any, Any, None]) -> None:
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop  # a faster loop when installed (it comes with uvicorn[standard])

        factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main_coroutine)


if __name__ == "__main__":
    sys.exit(main())
