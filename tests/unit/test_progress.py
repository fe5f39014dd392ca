"""The progress bar draws only on a terminal, and counts whether it draws or not."""

from __future__ import annotations

import io

from projections.progress import ProgressBar


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_writes_nothing_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar("replay orders", total=1_000, stream=stream)
    for _ in range(3):
        bar.advance(250)
    bar.finish()
    assert stream.getvalue() == ""
    assert bar.done == 750
    assert bar.rate > 0


def test_draws_the_count_on_a_terminal() -> None:
    stream = TerminalStream()
    bar = ProgressBar("replay orders", total=2_000, stream=stream)
    bar.advance(1_500)
    bar.finish()
    bar.finish()
    assert bar.done == 1_500
    assert "replay orders" in stream.getvalue()
    assert "1,500 events" in stream.getvalue()


def test_draws_nothing_when_disabled_even_on_a_terminal() -> None:
    stream = TerminalStream()
    bar = ProgressBar("replay", enabled=False, stream=stream)
    bar.advance(10)
    bar.finish()
    assert stream.getvalue() == ""
    assert bar.done == 10
