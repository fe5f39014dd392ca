"""How a setting is declared: its default, the group `--help` lists it under, what it means."""

from __future__ import annotations

from typing import Any

from pydantic import Field

# What each group of settings is about, in the order `--help` shows them.
SETTING_GROUPS: dict[str, str] = {
    "server": "where the API listens",
    "stores": "Redis and PostgreSQL",
    "embedded": "embedded servers (oee up)",
    "logging": "logging",
    "orders": "order processing",
    "intake": "order intake",
    "venues": "simulated venues",
    "consumers": "consumers of the log",
    "projection": "projectors",
    "api": "API",
    "websocket": "WebSocket streams",
}


def setting(default: Any, group: str, description: str, **constraints: Any) -> Any:
    """A setting's field: its default, its group (a key of SETTING_GROUPS), what it means."""
    assert group in SETTING_GROUPS, group
    return Field(
        default=default, description=description, json_schema_extra={"group": group}, **constraints
    )
