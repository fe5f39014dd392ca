"""A replay worker process: one partition of a replay, over clients of its own, on the settings
in its environment (as every child gets them). `projections.replay` starts it as

    python -m oee.replay_worker <schema> <part> <parts> <end> <chunk> <projection>...

It prints `progress <n>` after every batch, `skipped <json>` for each entry it could not apply,
and `done <entries read>` at the end.
"""

from __future__ import annotations

import asyncio
import sys

import orjson

from eventlog.gc_tuning import fewer_collections
from eventlog.settings import Settings
from oee.wiring import replay_clients
from projections.appliable import Skipped
from projections.replay_partition import replay_partition


def _report(count: int) -> None:
    print(f"progress {count}", flush=True)


async def _run(settings: Settings, argv: list[str]) -> tuple[tuple[int, int], list[Skipped]]:
    schema, part, parts, end, chunk, *names = argv
    async with replay_clients(settings) as (redis, conn, archive):
        return await replay_partition(
            redis,
            conn,
            settings.log_keys(),
            schema,
            names,
            part=int(part),
            parts=int(parts),
            end=end,
            chunk=int(chunk),
            report=_report,
            archive=archive,
        )


def main() -> None:
    with fewer_collections():
        (held, archived), skipped = asyncio.run(_run(Settings.from_env(), sys.argv[1:]))
    for entry in skipped:
        print(f"skipped {orjson.dumps(entry.as_dict()).decode()}", flush=True)
    print(f"done {held} {archived}", flush=True)


if __name__ == "__main__":
    main()
