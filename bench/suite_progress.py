"""What `oee bench` shows while its suites run: on a terminal, one line drawn by rich (the suite
running, how many of the chosen suites are done, the time so far); elsewhere (CI, pipes, logs),
one plain line on stderr as each suite starts. The figures are printed either way."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

Starting = Callable[[str], None]


@contextlib.contextmanager
def suite_progress(names: Sequence[str], stream: TextIO | None = None) -> Iterator[Starting]:
    """Yields what to call as each suite of `names` starts, with its name."""
    stream = sys.stderr if stream is None else stream
    if not stream.isatty():

        def say(name: str) -> None:
            print(f"running {name} …", file=stream, flush=True)

        yield say
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("oee bench {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stream, force_terminal=True),
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = progress.add_task("", total=len(names))
    started: list[str] = []

    def show(name: str) -> None:
        if started:
            progress.advance(task)
        started.append(name)
        progress.update(task, description=name)

    with progress:
        yield show
        progress.update(task, completed=len(names), description="done")
