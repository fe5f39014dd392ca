"""The ceiling app (`bench.ceiling_app`) as a process of its own for one benchmark: GET /fixed,
and with `settings` POST /place appending to a scratch stream under the benchmark's key prefix,
which is deleted with the process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator

from bench.api_process import wait_healthy
from bench.process_readings import free_port
from bench.redis_servers import delete_keys
from bench.scope import HOST, child_env, scope_tag_prefix
from eventlog.settings import Settings


@contextlib.contextmanager
def ceiling_server(settings: Settings | None = None) -> Iterator[int]:
    """The ceiling app's port while it runs."""
    port = free_port(HOST)
    prefix = f"{scope_tag_prefix(settings)}ceiling-{uuid.uuid4().hex[:8]}" if settings else ""
    redis = [settings.require_redis_url(), f"{prefix}:stream"] if settings else []
    command = [sys.executable, "-m", "bench.ceiling_app", str(port), *redis]
    process = subprocess.Popen(command, env=child_env())
    try:
        wait_healthy(port, path="/fixed")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        if settings:
            delete_keys(settings, prefix)
