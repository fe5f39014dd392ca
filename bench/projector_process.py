"""One projector process of the projection benchmark: connects, says it is ready, waits for the
start signal, drains the whole log as `oee project` would, then prints when it started and ended.

    python -m bench.projector_process NAME [--batch-size N]   (settings from the environment)

It speaks in lines of JSON on stdout: `{"ready": true}`, then its report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from eventlog.connections import redis_client
from eventlog.gc_tuning import fewer_collections
from eventlog.settings import Settings
from oee.parts import drain_projections

START_WITHIN_SECONDS = 60


def start_key(settings: Settings) -> str:
    """The list the benchmark pushes one start signal a process onto."""
    return f"{settings.key_prefix}:bench-go"


async def _project(name: str, batch_size: int | None) -> dict[str, Any]:
    settings = Settings.from_env()
    redis = redis_client(settings)
    try:
        await redis.ping()
        _say({"ready": True})
        if await redis.blpop([start_key(settings)], timeout=START_WITHIN_SECONDS) is None:
            raise RuntimeError(f"no start signal within {START_WITHIN_SECONDS} s")
    finally:
        await redis.aclose()
    started = time.time()
    handled = await drain_projections(settings, name=name, batch_size=batch_size)
    return {"handled": handled, "started": started, "ended": time.time()}


def _say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.projector_process", description=__doc__)
    parser.add_argument("name", help="consumer name in the projection groups")
    parser.add_argument("--batch-size", type=int, help="entries a batch (default: the settings')")
    args = parser.parse_args(argv)
    with fewer_collections():  # as `oee project` runs
        _say(asyncio.run(_project(args.name, args.batch_size)))


if __name__ == "__main__":
    main()
