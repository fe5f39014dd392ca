"""Schemathesis against the server's own `/openapi.json`: every operation with data that fits the
document and data that breaks it, then chains of calls along its links (place an order, read it,
its events, cancel it). No answer may be a server error, and every answer must be one the
document lists for the operation, with its content type and a body its schema matches.

Short by default, for CI; `OEE_FUZZ_EXAMPLES=200` (cases per operation and phase) runs longer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

EXAMPLES = int(os.environ.get("OEE_FUZZ_EXAMPLES", "25"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
DOCUMENT = "/openapi.json"


def fuzz(base_url: str, report: Path, examples: int) -> subprocess.CompletedProcess[str]:
    """One deterministic `st run` (the same cases every time), its JSON report in `report`."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}{DOCUMENT}"),
            *("--checks", ",".join(CHECKS)),
            *("--mode", "all", "--max-examples", str(examples)),
            *("--phases", "examples,coverage,fuzzing,stateful"),
            *("--generation-deterministic", "--workers", "1", "--request-timeout", "10"),
            *("--no-color", "--report", "json", "--report-json-path", str(report)),
        ],
        cwd=report.parent,  # its caches stay out of the checkout
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def operations(document: dict[str, Any]) -> set[str]:
    """`METHOD /path` of every operation the document lists, the document's own but one."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        if path != DOCUMENT
        for method in item
    }


def test_every_operation_answers_as_its_document_says(base_url: str, tmp_path: Path) -> None:
    document = httpx.get(f"{base_url}{DOCUMENT}", timeout=10).json()
    report = tmp_path / "schemathesis.json"
    run = fuzz(base_url, report, EXAMPLES)
    summary = json.loads(report.read_text())
    cases = summary["test_cases"]
    print(  # shown with `pytest -s`: what a run covered
        f"schemathesis: {cases['generated']} cases, {cases['with_failures']} with failures, "
        f"{summary['operations']['tested']} operations, {summary['running_time']:.1f} s"
    )
    assert run.returncode == 0, run.stdout[-30_000:]
    assert cases["with_failures"] == 0
    assert cases["errored"] == 0
    assert set(summary["valid_rates"]) == operations(document)
    assert summary["operations"]["tested"] == len(operations(document))
    assert {name: phase["status"] for name, phase in summary["phases"].items()} == {
        "examples": "success",
        "coverage": "success",
        "fuzzing": "success",
        "stateful": "success",
    }
