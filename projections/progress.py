"""A progress line on stderr for long runs (replay, benchmarks): events done and events/s."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Redraws one line at most every `interval` seconds; silent when not enabled."""

    def __init__(
        self, label: str, *, total: int | None = None, enabled: bool = True, interval: float = 0.2
    ) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.done = 0
        self._interval = interval
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._stream: TextIO = sys.stderr

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and now - self._drawn_at >= self._interval:
            self._drawn_at = now
            self._draw()

    def finish(self) -> None:
        if self.enabled:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * 30)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%} "
        else:
            bar = ""
        self._stream.write(
            f"\r{self.label}: {bar}{self.done:,} events  {self.rate:,.0f} events/s   "
        )
        self._stream.flush()
