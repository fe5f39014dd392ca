"""Where settings come from: each field's environment variable (the original's names kept, the
rest `OEE_…`), a `.env` file in the working folder under the environment, `REDIS_HOST` and its
parts as a URL, and a value as a child process's environment gets it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from ipaddress import ip_network
from typing import Any
from urllib.parse import quote

from dotenv import dotenv_values
from pydantic import SecretStr

_ENV_NAMES = {
    "api_keys": "API_KEYS",
    "admin_api_keys": "ADMIN_API_KEYS",
    "host": "HOST",
    "port": "PORT",
    "redis_url": "REDIS_URL",
    "redis_cluster_url": "REDIS_CLUSTER_URL",
    "database_url": "DATABASE_URL",
    "log_level": "LOG_LEVEL",
    "max_concurrent_orders": "MAX_CONCURRENT_ORDERS",
    "max_orders_per_minute": "MAX_ORDERS_PER_MINUTE",
    "max_retry_attempts": "MAX_RETRY_ATTEMPTS",
    "slippage_tolerance": "SLIPPAGE_TOLERANCE",
}


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return _ENV_NAMES.get(field, f"OEE_{field.upper()}")


DOTENV_FILE = ".env"


def environment_and_dotenv() -> dict[str, str]:
    """`.env` in the working folder (when there is one) overlaid by the environment."""
    from_file = {k: v for k, v in dotenv_values(DOTENV_FILE).items() if v is not None}
    return from_file | dict(os.environ)


def redis_url_from_parts(env: Mapping[str, str]) -> str:
    host = env["REDIS_HOST"]
    port = env.get("REDIS_PORT") or "6379"
    password = env.get("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/0"


def environ_value(value: Any) -> str:
    """A setting's value as an environment variable holds it (a secret in the clear)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def normalised_networks(value: str) -> str:
    """A comma-separated list of IP addresses or networks, trimmed; ValueError naming a bad one."""
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    for entry in entries:
        try:
            ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return ",".join(entries)
