"""What `oee up` records of its children: the next start stops those an earlier, dead run left,
and never a process that merely reuses a recorded pid, nor the children of a run still going."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from oee.processes import start_time
from oee.run_record import RECORD_FILE, record_children, stop_leftover_children

ROOT = Path(__file__).resolve().parents[2]
# An owner that starts a long-lived child in a session of its own, records it, and dies. The
# child must not hold the owner's output pipe, or reading the owner's output waits for the child.
DYING_OWNER = """
import subprocess, sys
from pathlib import Path
from oee.run_record import record_children
child = subprocess.Popen(
    ["sleep", "300"], start_new_session=True,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
record_children(Path(sys.argv[1]), [("process", child.pid)])
print(child.pid)
"""


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


def test_the_next_start_stops_what_a_dead_run_left_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", DYING_OWNER, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    orphan = int(done.stdout)
    assert start_time(orphan) is not None  # the owner is gone, its child is not

    with caplog.at_level(logging.WARNING):
        assert stop_leftover_children(tmp_path, grace=5) == [("process", orphan)]

    assert start_time(orphan) is None
    assert f"stopping oee process (pid {orphan}) left running" in caplog.text
    assert not (tmp_path / RECORD_FILE).exists()


def test_a_reused_pid_is_not_touched(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    started = start_time(sleeper.pid)
    assert started is not None
    entries = [
        {"name": "up", "pid": 999_999_999, "started": 1},
        {"name": "process", "pid": sleeper.pid, "started": started + 1},
    ]
    (tmp_path / RECORD_FILE).write_text(json.dumps(entries))

    assert stop_leftover_children(tmp_path, grace=5) == []
    assert sleeper.poll() is None


def test_the_children_of_a_run_still_going_are_left_alone(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    record_children(tmp_path, [("api", sleeper.pid)])  # this test process is the running owner

    assert stop_leftover_children(tmp_path, grace=5) == []
    assert sleeper.poll() is None


@pytest.mark.parametrize("text", ["not json", '[{"name": "api"}]', '{"pid": 1}', "[1]"])
def test_an_unreadable_record_is_ignored_with_a_warning(
    tmp_path: Path, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / RECORD_FILE).write_text(text)

    with caplog.at_level(logging.WARNING):
        assert stop_leftover_children(tmp_path, grace=5) == []

    assert "ignoring unreadable" in caplog.text
