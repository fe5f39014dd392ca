"""Publishes every pool's spot price as one JSON snapshot in Redis (`Keys.venue_prices`).

The API's price board reads it without importing processors/; the key expires when no processor
refreshes it, so a board never shows prices from a market nobody is running."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis

from eventlog.keys import Keys
from eventlog.settings import Settings
from processors.market import Market
from processors.pools import Pool

SIGNIFICANT_DIGITS = 10


def price_snapshot(pools: Iterable[Pool], now: datetime) -> dict[str, Any]:
    """The snapshot document: one entry per pool, prices in whole tokens of b per token a."""
    return {
        "updatedAt": now.isoformat().replace("+00:00", "Z"),
        "prices": [
            {
                "venue": pool.venue,
                "pair": pool.pair,
                "kind": pool.kind,
                "price": _significant(pool.price),
                "feeRate": _significant(Decimal(repr(pool.fee_rate))),
            }
            for pool in sorted(pools, key=lambda p: (p.pair, p.venue))
        ],
    }


async def publish_venue_prices(
    market: Market, redis: aioredis.Redis, keys: Keys, settings: Settings
) -> None:
    """Write the current snapshot, kept for `health_ttl_seconds` unless refreshed."""
    snapshot = price_snapshot(await market.all_pools(), datetime.now(UTC))
    await redis.set(keys.venue_prices, orjson.dumps(snapshot), ex=settings.health_ttl_seconds)


def _significant(value: Decimal) -> str:
    rounded = Decimal(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return format(rounded.normalize(), "f")
