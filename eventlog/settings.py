"""The one settings object: read once from the environment, frozen, passed explicitly.

Names follow the original service (PORT, DATABASE_URL, REDIS_URL, MAX_*); the rest start OEE_.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import (
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
)

from eventlog.key_pairs import parse_key_pairs
from eventlog.setting_fields import setting
from eventlog.setting_sources import (
    env_name,
    environ_value,
    environment_and_dotenv,
    normalised_networks,
    redis_url_from_parts,
)
from eventlog.store_settings import SettingsError, StoreSettings

__all__ = ["Settings", "SettingsError"]


class Settings(StoreSettings):
    """Every setting (those of the stores come from StoreSettings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Where things are.
    host: str = setting("127.0.0.1", "server", "address the API listens on")
    port: int = setting(3000, "server", "port the API listens on", ge=0, le=65535)
    trusted_proxies: str = setting(
        "",
        "server",
        "comma-separated addresses or networks (CIDR) of proxies whose X-Forwarded-For names the"
        " client; empty: no proxy is trusted and the client is the peer address",
    )
    data_dir: Path = setting(Path(".oee"), "embedded", "where the embedded servers keep data")
    log_level: str = setting("INFO", "logging", "DEBUG, INFO, WARNING or ERROR")

    # Order processing limits (the original's names).
    max_concurrent_orders: int = setting(
        10, "orders", "orders in flight per processor", ge=1, le=10_000
    )
    max_orders_per_minute: int = setting(
        100,
        "orders",
        "a minute's budget of executions started, all processors together: up to that many at"
        " once, refilled at the rate (0: no limit)",
        ge=0,
    )
    max_retry_attempts: int = setting(
        3, "orders", "attempts in all for an order with transient failures", ge=1, le=20
    )
    slippage_tolerance: Decimal = setting(
        Decimal("0.01"), "orders", "slippage of an order that gives none", ge=0, le=Decimal("0.5")
    )
    trigger_interval_ms: int = setting(
        20, "orders", "how often the market is checked against resting limit orders", ge=1
    )
    max_resting_per_client: int = setting(
        1_000, "orders", "limit orders one client may have resting (409 beyond; 0: no limit)", ge=0
    )
    retry_base_delay_ms: int = setting(500, "orders", "first wait before a retry", ge=0)
    retry_max_delay_ms: int = setting(8_000, "orders", "longest wait before a retry", ge=0)

    # Intake: requests per minute per client at POST /api/orders/execute; 0 is off.
    intake_rate_limit_per_minute: int = setting(
        0, "intake", "orders a client may place per minute (429 beyond; 0: off)", ge=0
    )

    # Simulated venues.
    venue_quote_latency_ms: int = setting(200, "venues", "time a quote takes", ge=0)
    venue_swap_latency_min_ms: int = setting(2_000, "venues", "shortest swap", ge=0)
    venue_swap_latency_max_ms: int = setting(3_000, "venues", "longest swap", ge=0)
    venue_failure_rate: float = setting(
        0.05, "venues", "share of swaps that fail transiently", ge=0, le=1
    )
    venue_drift_bps: int = setting(
        20, "venues", "largest price move a drift step, in basis points", ge=0, le=10_000
    )
    venue_seed: int = setting(7, "venues", "seed of the simulated market")
    venue_drift_interval_ms: int = setting(1_000, "venues", "time between drift steps", ge=10)
    venue_arbitrage_share: float = setting(
        0.3,
        "venues",
        "share of a pool's gap to the reference price arbitrage closes each step (0: none)",
        ge=0,
        le=1,
    )
    venue_quote_ttl_ms: int = setting(
        30_000, "venues", "age at which a route is quoted again", ge=1
    )

    # Consumer runtime.
    consumer_batch_size: int = setting(
        500, "consumers", "entries read from the log at once", ge=1, le=10_000
    )
    consumer_block_ms: int = setting(1_000, "consumers", "how long a read waits for news", ge=1)
    consumer_claim_idle_ms: int = setting(
        30_000, "consumers", "idle time after which another consumer takes an entry over", ge=1
    )
    consumer_max_deliveries: int = setting(
        5, "consumers", "deliveries of an entry before it is dead-lettered", ge=1
    )
    # Projectors commit one transaction per batch: larger batches amortise the commit.
    projection_batch_size: int = setting(
        2_000, "projection", "events a projector commits in one transaction", ge=1, le=50_000
    )
    log_retention_seconds: int = setting(
        86_400, "projection", "how long the log keeps an entry in Redis (the trim point)", ge=0
    )
    archive_batch_size: int = setting(
        5_000, "projection", "events the archiver copies to PostgreSQL in one transaction", ge=1
    )
    health_ttl_seconds: int = setting(
        15, "consumers", "a consumer's heartbeat lives this long unless refreshed", ge=1
    )

    api_store_timeout_seconds: float = setting(
        5.0,
        "api",
        "how long a request waits for PostgreSQL before answering 503 (one order: from the log)",
        gt=0,
    )
    api_keys: SecretStr = setting(
        SecretStr(""),
        "api",
        "client:key pairs, comma-separated; with any key (here or from `oee keys`) every"
        " endpoint but /health, /openapi.json and the dashboard page needs one",
    )
    admin_api_keys: SecretStr = setting(
        SecretStr(""),
        "api",
        "client:key pairs of operators: they see every client's orders and the operator endpoints",
    )
    api_keys_refresh_seconds: float = setting(
        5.0, "api", "how soon a key made or revoked with `oee keys` takes effect in the API", gt=0
    )
    api_max_connections: int = setting(
        4_096,
        "api",
        "connections and requests one API process serves at once; beyond it a request is 503",
        ge=1,
    )
    api_header_timeout_seconds: float = setting(
        10.0,
        "api",
        "how long a client may take to send a request's line and headers; then 408 and close",
        gt=0,
    )
    api_body_timeout_seconds: float = setting(
        30.0,
        "api",
        "how long a client may take to send a request's body once its headers are in; then 408",
        gt=0,
    )
    api_max_url_bytes: int = setting(
        8_192,
        "api",
        "the longest request URL (WebSocket ones too); longer is 414 and close",
        ge=256,
    )
    api_max_header_bytes: int = setting(
        65_536, "api", "the largest request line and headers; larger is 431 and close", ge=1_024
    )

    # WebSocket streams (api/streams.py).
    ws_buffer_size: int = setting(
        1_024, "websocket", "messages waiting per socket before it is closed", ge=1
    )
    ws_heartbeat_seconds: float = setting(
        15.0, "websocket", "heartbeat interval to idle sockets", gt=0
    )
    ws_close_after_terminal_ms: int = setting(
        5_000, "websocket", "an order's stream closes this long after its final event", ge=0
    )
    ws_unknown_order_grace_ms: int = setting(
        500, "websocket", "how long a stream waits for an order id not yet in the log", ge=0
    )
    ws_max_streams: int = setting(
        2_048,
        "websocket",
        "streams one API process serves at once; past it a new socket is closed with 1013",
        ge=1,
    )
    ws_max_streams_per_client: int = setting(
        32,
        "websocket",
        "streams one client (API key, else address) may hold open per API process; then 1013",
        ge=1,
    )
    ws_catch_up_slots: int = setting(
        4,
        "websocket",
        "sockets that catch up from the log at once per API process; the others wait their turn",
        ge=1,
    )
    ws_ticket_seconds: int = setting(
        30,
        "websocket",
        "how long a ticket from POST /api/stream-tickets may open a WebSocket (once)",
        ge=1,
    )
    ws_max_client_frame_bytes: int = setting(
        4_096,
        "websocket",
        "the largest frame a client may send (clients only send pings); larger closes with 1009",
        ge=128,
    )

    @field_validator("api_keys", "admin_api_keys")
    @classmethod
    def _key_pairs(cls, value: SecretStr) -> SecretStr:
        parse_key_pairs(value.get_secret_value())
        return value

    def key_pairs(self) -> list[tuple[str, str, bool]]:
        """The keys given in the settings: (client, key, admin)."""
        return [
            (client, key, admin)
            for admin, field in ((False, "api_keys"), (True, "admin_api_keys"))
            for client, key in parse_key_pairs(getattr(self, field).get_secret_value())
        ]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        return normalised_networks(value)

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The trusted proxies' addresses and networks; empty when none is trusted."""
        return self.trusted_proxies.split(",") if self.trusted_proxies else []

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables; `overrides` win over the environment.
        Without an explicit `environ`, a `.env` file in the working folder is read too, and the
        process's environment variables win over it."""
        env = environment_and_dotenv() if environ is None else environ
        values: dict[str, Any] = {}
        for field in cls.model_fields:
            name = env_name(field)
            raw = env.get(name)
            if raw is not None and raw != "":
                values[field] = raw
        if "redis_url" not in values and env.get("REDIS_HOST"):
            values["redis_url"] = redis_url_from_parts(env)
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
            env_name(field): "" if value is None else environ_value(value)
            for field, value in self.model_dump().items()
        }
