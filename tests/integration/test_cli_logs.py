"""What a person sees on stderr from a part: JSON lines when piped, one line per retry while a
store is unreachable, and no traceback when it is stopped meanwhile."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time

from bench.process_readings import free_port


def test_a_piped_command_logs_json_lines(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oee", "migrate"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert any(line["message"].startswith("applying migration") for line in lines), lines
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)


def _read_until(process: subprocess.Popen[str], wanted: str, within_s: float) -> str:
    """What `process` wrote on stderr up to the first line containing `wanted`."""
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + within_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while wanted not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {wanted!r} within {within_s} s: {seen}"
            if selector.select(left):
                line = process.stderr.readline()
                assert line, f"stderr closed before {wanted!r}: {seen}"
                seen += line
    return seen


def test_a_projector_without_redis_logs_a_line_per_retry_and_stops_cleanly(
    database_url: str,
) -> None:
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "DATABASE_URL": database_url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "oee", "project"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = _read_until(process, "unreachable", within_s=60)
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=10)[1]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = seen + rest
    assert process.returncode == 0, output
    assert "Traceback" not in output
    for line in output.splitlines():
        json.loads(line)  # every line is one log line: nothing else was printed
