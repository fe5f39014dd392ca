"""The README's tour, run as written against a running server: every request it shows is sent
(curl commands and the WebSocket client alike), and every answer has the shape the README shows:
the keys it documents, with values of the documented JSON types."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_BASE = "http://127.0.0.1:3000"
_BLOCK = re.compile(r"```(sh|json)\n(.*?)```", re.S)
_BINDING = re.compile(r"# then: (\w+)=<(\w+) from the answer>")


def _tour_steps() -> list[tuple[str, list[Any]]]:
    """(shell command, documented answers) in the order the tour shows them."""
    text = README.read_text(encoding="utf-8")
    tour = text.split("\n## A tour\n", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, list[Any]]] = []
    for kind, body in _BLOCK.findall(tour):
        if kind == "sh":
            steps.append((body, []))
        else:
            steps[-1][1].append(json.loads(body))
    return steps


def _same_shape(documented: Any, actual: Any, where: str = "answer") -> None:
    if documented is None or actual is None:  # a field that is not set (yet) in one of them
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in documented.items():
            assert key in actual, f"{where}: no {key!r} in {sorted(actual)}"
            _same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        if documented and actual:
            _same_shape(documented[0], actual[0], f"{where}[0]")
    elif isinstance(documented, bool):
        assert isinstance(actual, bool), f"{where}: {actual!r} is not a boolean"
    elif isinstance(documented, int | float):
        assert isinstance(actual, int | float), f"{where}: {actual!r} is not a number"
    else:
        assert isinstance(actual, str), f"{where}: {actual!r} is not a string"


def _substitute(text: str, base_url: str, bound: dict[str, str]) -> str:
    text = text.replace(DOCUMENTED_BASE, base_url)
    text = text.replace(DOCUMENTED_BASE.replace("http", "ws"), base_url.replace("http", "ws"))
    for name, value in bound.items():
        text = text.replace(f"${name}", value)
    return text


def _curl(http: httpx.Client, words: list[str]) -> httpx.Response:
    method, headers, data, url = "GET", {}, None, ""
    for flag, value in zip(words, [*words[1:], ""], strict=True):
        if flag == "-X":
            method = value
        elif flag == "-H":
            name, _, header = value.partition(":")
            headers[name] = header.strip()
        elif flag == "-d":
            data, method = value, "POST" if method == "GET" else method
        elif flag.startswith("http"):
            url = flag
    return http.request(method, url, headers=headers, content=data)


def test_every_step_of_the_readme_tour_answers_as_documented(
    http: httpx.Client, base_url: str
) -> None:
    steps = _tour_steps()
    assert len(steps) >= 12  # every endpoint once
    bound: dict[str, str] = {}
    for command, documented in steps:
        line = _substitute(command.splitlines()[0], base_url, bound)
        words = shlex.split(line)
        if "websockets" in words:
            with connect(words[-1], open_timeout=10) as socket:
                messages = [json.loads(socket.recv(timeout=10)) for _ in documented]
            for shown, got in zip(documented, messages, strict=True):
                assert got["type"] == shown["type"]
                _same_shape(shown, got, f"{shown['type']} message")
            continue
        assert words[0] == "curl", line
        response = _curl(http, words)
        answer = response.json()
        [shown] = documented
        if response.status_code == 409 and "/cancel" in line:  # submitted already: documented
            assert answer["code"] == "TOO_LATE_TO_CANCEL"
            continue
        expect_success = shown.get("success", True)
        assert (response.status_code < 300) == expect_success, (line, response.text)
        _same_shape(shown, answer)
        for name, key in _BINDING.findall(command):
            bound[name] = answer[key]
