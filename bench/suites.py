"""`oee bench`: runs the benchmark suites against the configured servers (or embedded ones) and
prints their figures as JSON and as a table.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import platform
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventlog.settings import Settings

# suite name → "module:function"; each function takes Settings and returns a dict of figures.
SUITES: dict[str, str] = {
    "eventlog": "bench.eventlog:bench_eventlog",
    "api": "bench.placement:bench_api",
    "query": "bench.query:bench_query",
    "startup": "bench.startup:bench_startup_suite",
    "execution": "bench.execution:bench_execution_suite",
    "websocket": "bench.websocket:run_websocket_bench",
}


@contextlib.contextmanager
def _servers(settings: Settings) -> Iterator[Settings]:
    if settings.redis_url and settings.database_url:
        yield settings
        return
    from oee.embedded import EmbeddedServers

    with tempfile.TemporaryDirectory(prefix="oee-bench-") as folder:
        servers = EmbeddedServers(Path(folder))
        redis_url, database_url = servers.start()
        try:
            yield settings.model_copy(
                update={
                    "redis_url": settings.redis_url or redis_url,
                    "database_url": settings.database_url or database_url,
                }
            )
        finally:
            servers.stop()


def _load(target: str) -> Callable[[Settings], dict[str, Any]]:
    module, function = target.split(":")
    found: Callable[[Settings], dict[str, Any]] = getattr(importlib.import_module(module), function)
    return found


def run_bench(settings: Settings, suite: str, output: str | None) -> int:
    chosen = list(SUITES) if suite == "all" else [suite]
    unknown = [name for name in chosen if name not in SUITES]
    if unknown:
        print(f"unknown suite {unknown[0]!r}; suites: all, {', '.join(SUITES)}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": _cpus(), "python": platform.python_version()},
    }
    with _servers(settings) as live:
        for name in chosen:
            print(f"running {name} …", file=sys.stderr, flush=True)
            results[name] = _load(SUITES[name])(live)
    text = json.dumps(results, indent=2)
    print(text)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    print(_table(results), file=sys.stderr)
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _table(results: dict[str, Any]) -> str:
    rows = [
        (suite, metric, value)
        for suite, figures in results.items()
        if isinstance(figures, dict) and suite != "machine"
        for metric, value in figures.items()
    ]
    width = max((len(f"{s}.{m}") for s, m, _ in rows), default=10)
    return "\n".join(f"{f'{s}.{m}':<{width}}  {v}" for s, m, v in rows)
