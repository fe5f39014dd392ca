"""scripts/install.sh looks for a Python quietly: a candidate that only complains is skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FIND_PYTHON = Path(__file__).parents[2] / "scripts" / "find-python"


def test_a_shim_without_an_installed_version_is_skipped_without_noise(tmp_path: Path) -> None:
    shim = tmp_path / "python3.13"  # what pyenv's shim does for a version not selected
    shim.write_text('#!/bin/sh\necho "pyenv: python3.13: command not found" >&2\nexit 127\n')
    shim.chmod(0o755)
    (tmp_path / "python3.12").symlink_to(sys.executable)
    done = subprocess.run(
        [str(FIND_PYTHON)],
        env={**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == "python3.12"
    assert done.stderr == ""


def test_no_suitable_python_fails_quietly_for_install_to_say_so(tmp_path: Path) -> None:
    done = subprocess.run(
        ["/bin/bash", str(FIND_PYTHON)],
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == ""
