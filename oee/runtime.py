"""Running a long-lived part until SIGTERM or SIGINT: the signal sets a stop event, the part
finishes what it holds and returns, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

logger = logging.getLogger(__name__)


def run_until_signalled(part: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await part(stop)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
    return 0


HUMAN_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"


def json_formatter() -> logging.Formatter:
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, pid, and every
    `extra={...}` field of the call (order_id, event_id, position, ...)."""
    return JsonFormatter(
        "{levelname}{name}{message}{process}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
        timestamp="time",
        json_default=str,
    )


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Log to stderr (or `stream`): human lines on a terminal, JSON lines otherwise."""
    out = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(HUMAN_FORMAT) if out.isatty() else json_formatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
