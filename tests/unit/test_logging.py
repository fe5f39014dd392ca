"""Logs: JSON lines when stderr is not a terminal, with an event's ids as fields of their own."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from oee.runtime import configure_logging, json_formatter


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_a_record_with_an_order_id_renders_it_as_a_json_field() -> None:
    record = logging.getLogger("eventlog.consumer").makeRecord(
        "eventlog.consumer",
        logging.ERROR,
        __file__,
        1,
        "failed on order_id=%s",
        ("o-1",),
        None,
        extra={"order_id": "o-1", "event_id": "e-1", "position": "1-0"},
    )
    line = json.loads(json_formatter().format(record))
    assert line["order_id"] == "o-1"
    assert line["event_id"] == "e-1"
    assert line["position"] == "1-0"
    assert line["message"] == "failed on order_id=o-1"
    assert line["level"] == "ERROR"
    assert line["logger"] == "eventlog.consumer"
    assert line["time"]


@pytest.mark.usefixtures("restored_logging")
def test_logging_to_a_pipe_writes_json_lines() -> None:
    out = io.StringIO()  # not a terminal
    configure_logging("INFO", out)
    logging.getLogger("oee.test").info("hello %s", "there", extra={"order_id": "o-2"})
    line = json.loads(out.getvalue().splitlines()[-1])
    assert (line["message"], line["order_id"]) == ("hello there", "o-2")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.usefixtures("restored_logging")
def test_logging_to_a_terminal_writes_human_lines() -> None:
    out = _Terminal()
    configure_logging("INFO", out)
    logging.getLogger("oee.test").warning("hello")
    text = out.getvalue()
    assert "WARNING" in text
    assert "oee.test: hello" in text
    assert not text.startswith("{")
