"""Settings: read from the original's variable names, refused clearly when wrong, all documented."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from eventlog.setting_sources import env_name
from eventlog.settings import Settings, SettingsError


def test_the_original_variable_names_are_read() -> None:
    settings = Settings.from_env(
        {
            "PORT": "8080",
            "MAX_CONCURRENT_ORDERS": "4",
            "MAX_ORDERS_PER_MINUTE": "0",
            "MAX_RETRY_ATTEMPTS": "5",
            "SLIPPAGE_TOLERANCE": "0.02",
            "OEE_VENUE_FAILURE_RATE": "0",
        }
    )
    assert settings.port == 8080
    assert settings.max_concurrent_orders == 4
    assert settings.max_orders_per_minute == 0
    assert settings.max_retry_attempts == 5
    assert settings.slippage_tolerance == Decimal("0.02")
    assert settings.venue_failure_rate == 0


def test_redis_url_is_built_from_host_port_and_password() -> None:
    settings = Settings.from_env(
        {"REDIS_HOST": "cache", "REDIS_PORT": "6380", "REDIS_PASSWORD": "p@ss"}
    )
    assert settings.redis_url == "redis://:p%40ss@cache:6380/0"


def test_redis_url_wins_over_the_parts() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://a:1/2", "REDIS_HOST": "b"})
    assert settings.redis_url == "redis://a:1/2"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "abc"),
        ("MAX_CONCURRENT_ORDERS", "0"),
        ("SLIPPAGE_TOLERANCE", "0.9"),
        ("OEE_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("OEE_TRUSTED_PROXIES", "127.0.0.1,proxy.internal"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_trusted_proxies_are_addresses_or_networks_none_by_default() -> None:
    settings = Settings.from_env({"OEE_TRUSTED_PROXIES": " 10.0.0.0/8 ,::1,192.168.1.7 "})
    assert settings.trusted_proxy_list == ["10.0.0.0/8", "::1", "192.168.1.7"]
    assert Settings().trusted_proxy_list == []


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]  # the assignment mypy forbids is what is tested


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    missing = {env_name(field) for field in Settings.model_fields} - listed
    assert not missing, f".env.example does not list {sorted(missing)}"


def test_settings_given_to_a_child_as_environment_variables_come_back_equal() -> None:
    settings = Settings.from_env(
        {"PORT": "0", "OEE_VENUE_FAILURE_RATE": "0.25", "SLIPPAGE_TOLERANCE": "0.015"},
        redis_url="redis://127.0.0.1:1/0",
        data_dir=Path("/tmp/somewhere"),
    )
    assert Settings.from_env(settings.to_environ()) == settings
    assert Settings.from_env(Settings().to_environ()) == Settings()  # unset URLs stay unset


def test_a_dotenv_file_in_the_working_folder_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("PORT=4100\nOEE_KEY_PREFIX=from-file\n# a comment\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("OEE_KEY_PREFIX", raising=False)
    settings = Settings.from_env()
    assert settings.port == 4100
    assert settings.key_prefix == "from-file"


def test_the_environment_wins_over_the_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("PORT=4100\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "4200")
    assert Settings.from_env().port == 4200


def test_no_dotenv_file_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORT", raising=False)
    assert Settings.from_env().port == Settings().port


def test_an_explicit_environ_ignores_the_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("PORT=4100\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).port == Settings().port
