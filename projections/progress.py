"""A progress bar on stderr for long runs (replay, benchmarks): events done and events/s, drawn by
rich only when the stream is a terminal; elsewhere (CI, pipes, logs) nothing is written at all.
The count and the rate are kept either way, for callers that read them.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)


class ProgressBar:
    """`advance` counts; rich redraws the line about five times a second; `finish` ends it."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        enabled: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._started = time.monotonic()
        stream = sys.stderr if stream is None else stream
        self.enabled = enabled and stream.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if self.enabled:
            columns: list[ProgressColumn] = [TextColumn("{task.description}:")]
            if total:
                columns += [BarColumn(), TaskProgressColumn()]
            columns += [
                TextColumn("{task.completed:,.0f} events"),
                TextColumn("{task.fields[rate]:,.0f} events/s"),
            ]
            console = Console(file=stream, force_terminal=True)
            self._progress = Progress(
                *columns,
                console=console,
                refresh_per_second=5,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._task = self._progress.add_task(label, total=total or None, rate=0.0)
            self._progress.start()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int) -> None:
        self.done += count
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, rate=self.rate)

    def finish(self) -> None:
        """Draw the final figures and leave the line on screen; idempotent."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self.done, rate=self.rate)
            self._progress.stop()
            self._progress = None
