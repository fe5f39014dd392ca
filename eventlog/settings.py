"""The one settings object: read once from the environment, frozen, passed explicitly.

Names follow the original service (PORT, DATABASE_URL, REDIS_URL, MAX_*); the rest start OEE_.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(ValueError):
    """A setting in the environment has a value that cannot be used."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Where things are.
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    redis_url: str | None = None
    database_url: str | None = None
    key_prefix: str = Field(default="oee", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    data_dir: Path = Path(".oee")
    log_level: str = "INFO"

    # Order processing limits (the original's names).
    max_concurrent_orders: int = Field(default=10, ge=1, le=10_000)
    max_orders_per_minute: int = Field(default=100, ge=0)  # 0 lifts the limit
    max_retry_attempts: int = Field(default=3, ge=1, le=20)
    slippage_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0, le=Decimal("0.5"))
    retry_base_delay_ms: int = Field(default=500, ge=0)
    retry_max_delay_ms: int = Field(default=8_000, ge=0)

    # Intake: requests per minute per client at POST /api/orders/execute; 0 is off.
    intake_rate_limit_per_minute: int = Field(default=0, ge=0)

    # Simulated venues.
    venue_quote_latency_ms: int = Field(default=200, ge=0)
    venue_swap_latency_min_ms: int = Field(default=2_000, ge=0)
    venue_swap_latency_max_ms: int = Field(default=3_000, ge=0)
    venue_failure_rate: float = Field(default=0.05, ge=0, le=1)
    venue_drift_bps: int = Field(default=20, ge=0, le=10_000)
    venue_seed: int = 7
    venue_drift_interval_ms: int = Field(default=1_000, ge=10)  # one drift step per interval
    venue_quote_ttl_ms: int = Field(default=30_000, ge=1)  # older routes are re-quoted

    # Consumer runtime.
    consumer_batch_size: int = Field(default=500, ge=1, le=10_000)
    consumer_block_ms: int = Field(default=1_000, ge=1)
    consumer_claim_idle_ms: int = Field(default=30_000, ge=1)
    consumer_max_deliveries: int = Field(default=5, ge=1)
    # Projectors commit one transaction per batch: larger batches amortise the commit.
    projection_batch_size: int = Field(default=2_000, ge=1, le=50_000)
    health_ttl_seconds: int = Field(default=15, ge=1)

    # How long an API request waits for PostgreSQL (a connection; for one order, its read too)
    # before answering 503, or for one order and its events, answering from the log.
    api_store_timeout_seconds: float = Field(default=5.0, gt=0)

    # WebSocket streams (api/streams.py).
    ws_buffer_size: int = Field(default=1_024, ge=1)  # messages waiting per socket, then closed
    ws_heartbeat_seconds: float = Field(default=15.0, gt=0)  # heartbeat to idle sockets
    ws_close_after_terminal_ms: int = Field(default=5_000, ge=0)  # order streams close then
    ws_unknown_order_grace_ms: int = Field(default=500, ge=0)  # wait for an unseen order id

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables; `overrides` win over the environment.
        Without an explicit `environ`, a `.env` file in the working folder is read too, and the
        process's environment variables win over it."""
        env = _environment_and_dotenv() if environ is None else environ
        values: dict[str, Any] = {}
        for field in cls.model_fields:
            name = env_name(field)
            raw = env.get(name)
            if raw is not None and raw != "":
                values[field] = raw
        if "redis_url" not in values and env.get("REDIS_HOST"):
            values["redis_url"] = _redis_url_from_parts(env)
        values.update(overrides)
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{env_name(str(err['loc'][0]))}: {err['msg']}" for err in exc.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from None

    def to_environ(self) -> dict[str, str]:
        """These settings as the environment variables `from_env` reads back: the one way a
        child process is given its settings. An unset value is an empty variable."""
        return {
            env_name(field): "" if value is None else str(value)
            for field, value in self.model_dump().items()
        }

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise SettingsError("REDIS_URL (or REDIS_HOST) is not set")
        return self.redis_url

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SettingsError("DATABASE_URL is not set")
        return self.database_url


_ENV_NAMES = {
    "host": "HOST",
    "port": "PORT",
    "redis_url": "REDIS_URL",
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


def _environment_and_dotenv() -> dict[str, str]:
    """`.env` in the working folder (when there is one) overlaid by the environment."""
    from_file = {k: v for k, v in dotenv_values(DOTENV_FILE).items() if v is not None}
    return from_file | dict(os.environ)


def _redis_url_from_parts(env: Mapping[str, str]) -> str:
    host = env["REDIS_HOST"]
    port = env.get("REDIS_PORT") or "6379"
    password = env.get("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/0"
