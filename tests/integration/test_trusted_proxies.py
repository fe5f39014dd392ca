"""Whose address a request counts under, served by uvicorn as `oee api` serves it: the peer's,
unless the peer is a proxy named in OEE_TRUSTED_PROXIES."""

from __future__ import annotations

import httpx
import pytest

from eventlog.settings import Settings
from schema.migrate import migrate
from tests.support.settings import MakeSettings
from tests.support.websocket_harness import running_api

GOOD = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5"}
LIMIT = 2


def limited(make_settings: MakeSettings, trusted_proxies: str) -> Settings:
    settings = make_settings(intake_rate_limit_per_minute=LIMIT, trusted_proxies=trusted_proxies)
    migrate(settings.require_database_url())
    return settings


async def place_as(http: httpx.AsyncClient, forwarded_for: str) -> int:
    response = await http.post(
        "/api/orders/execute", json=GOOD, headers={"X-Forwarded-For": forwarded_for}
    )
    return response.status_code


@pytest.mark.usefixtures("redis")  # removes the test's keys afterwards
async def test_without_trusted_proxies_a_forwarded_address_does_not_escape_the_limit(
    make_settings: MakeSettings,
) -> None:
    api = running_api(limited(make_settings, ""))
    async with api as server, httpx.AsyncClient(base_url=server.http_url) as http:
        statuses = [await place_as(http, f"203.0.113.{n}") for n in range(1, LIMIT + 3)]
    assert statuses == [202] * LIMIT + [429, 429]


@pytest.mark.usefixtures("redis")
async def test_a_trusted_proxy_s_forwarded_address_is_the_client(
    make_settings: MakeSettings,
) -> None:
    api = running_api(limited(make_settings, "10.9.0.0/16, 127.0.0.1"))
    async with api as server, httpx.AsyncClient(base_url=server.http_url) as http:
        first = [await place_as(http, "203.0.113.1") for _ in range(LIMIT + 1)]
        second = [await place_as(http, "203.0.113.2") for _ in range(LIMIT + 1)]
        # The address the trusted proxy was given by an untrusted one counts, not the
        # address that one claims.
        spoofed = await place_as(http, "198.51.100.7, 203.0.113.1")
    assert first == second == [202] * LIMIT + [429]
    assert spoofed == 429
