"""`oee COMMAND --help` tells the options and the settings a command reads; flags win over the
environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from eventlog.setting_sources import env_name
from eventlog.settings import Settings
from oee.cli import build_parser, settings_from_args
from projections.registry import PROJECTIONS

EVERY_SETTING = [env_name(field) for field in Settings.model_fields]
WS_SETTINGS = [name for name in EVERY_SETTING if name.startswith("OEE_WS_")]


def help_of(command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "oee", command, "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("up", ["--port", "--host", "--data-dir", *EVERY_SETTING]),
        (
            "api",
            [
                "--port",
                "--host",
                "PORT",
                "HOST",
                "OEE_TRUSTED_PROXIES",
                "REDIS_URL",
                "DATABASE_URL",
                "OEE_API_STORE_TIMEOUT_SECONDS",
                "OEE_API_HEADER_TIMEOUT_SECONDS",
                "OEE_API_BODY_TIMEOUT_SECONDS",
                "OEE_API_MAX_URL_BYTES",
                "OEE_API_MAX_HEADER_BYTES",
                "OEE_INTAKE_RATE_LIMIT_PER_MINUTE",
                *WS_SETTINGS,
            ],
        ),
        (
            "process",
            ["--name", "REDIS_URL", "MAX_CONCURRENT_ORDERS", "OEE_VENUE_SEED", "OEE_CONSUMER_*"],
        ),
        ("project", ["--name", "REDIS_URL", "DATABASE_URL", "OEE_PROJECTION_BATCH_SIZE"]),
        ("migrate", ["DATABASE_URL", "LOG_LEVEL"]),
        ("replay", ["PROJECTION", *PROJECTIONS, "REDIS_URL", "DATABASE_URL"]),
        ("health", ["--anywhere", "REDIS_URL", "OEE_KEY_PREFIX"]),
        ("bench", ["--output", *EVERY_SETTING]),
    ],
)
def test_help_names_the_options_and_the_settings_read(command: str, names: list[str]) -> None:
    text = help_of(command)
    for name in names:
        if name.endswith("*"):
            assert f"\n    {name[:-1]}" in text, f"oee {command} --help names no {name}"
        else:
            assert name in text, f"oee {command} --help does not name {name}"


def test_help_says_what_a_setting_means_and_its_default() -> None:
    text = help_of("api")
    line = next(line for line in text.splitlines() if line.strip().startswith("PORT "))
    description = Settings.model_fields["port"].description
    assert description
    assert description in line
    assert "(default: 3000)" in line
    assert "OEE_VENUE_SEED" not in text  # the API does not run venues


def test_a_command_reads_only_its_own_settings() -> None:
    assert "OEE_WS_BUFFER_SIZE" not in help_of("migrate")


def test_flags_of_up_reach_the_settings_and_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "3999")
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("OEE_DATA_DIR", "/nowhere")
    args = build_parser().parse_args(
        ["up", "--port", "4000", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d")]
    )
    settings = settings_from_args(args)
    assert (settings.port, settings.host, settings.data_dir) == (4000, "0.0.0.0", tmp_path / "d")


def test_without_flags_the_environment_stands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "3999")
    settings = settings_from_args(build_parser().parse_args(["api", "--host", "::"]))
    assert (settings.port, settings.host) == (3999, "::")


def test_a_bad_flag_value_stops_the_command_naming_the_setting() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oee", "api", "--port", "70000"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "PORT" in done.stderr
