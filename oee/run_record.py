"""`oee up`'s record of itself and its children in the data folder (`children.json`: name, pid,
start time), so that the next start stops whatever an earlier run killed with SIGKILL left running.
Nothing is touched while the recorded owner still runs; a recorded child is signalled only while
its pid still names the process that was started (the same start time).
"""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

from oee.embedded_host import make_data_dir, write_private
from oee.processes import start_time, stop_process

logger = logging.getLogger(__name__)

RECORD_FILE = "children.json"
Child = tuple[str, int]  # a child's name and pid


def record_children(data_dir: Path, children: list[Child]) -> None:
    """Write what runs now; a child whose start time cannot be read has already exited."""
    entries = [
        {"name": name, "pid": pid, "started": started}
        for name, pid in [("up", os.getpid()), *children]
        if (started := start_time(pid)) is not None
    ]
    make_data_dir(data_dir)
    temporary = data_dir / f".{RECORD_FILE}.tmp"
    write_private(temporary, json.dumps(entries, indent=2))
    temporary.replace(data_dir / RECORD_FILE)


def stop_leftover_children(data_dir: Path, grace: float) -> list[Child]:
    """Stop the recorded children still running (SIGTERM, SIGKILL after `grace`); those stopped."""
    path = data_dir / RECORD_FILE
    try:
        entries = json.loads(path.read_text())
        processes = [(str(e["name"]), int(e["pid"]), int(e["started"])) for e in entries]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return []
    owner = [(pid, started) for name, pid, started in processes if name == "up"]
    if any(start_time(pid) == started for pid, started in owner):
        return []  # a running oee up owns them
    stopped: list[Child] = []
    for name, pid, started in processes:

        def ours(candidate: int, started: int = started) -> bool:
            return start_time(candidate) == started

        if name != "up" and ours(pid):
            logger.warning("stopping oee %s (pid %s) left running by an earlier oee up", name, pid)
            if stop_process(pid, signal.SIGTERM, grace, verify=ours):
                stopped.append((name, pid))
    path.unlink(missing_ok=True)
    return stopped
