"""`GET /api/venues/prices`: the current spot price of every venue's pool, grouped by pair.

Reads the snapshot processors publish to `Keys.venue_prices` (the API never imports processors/).
No processor running means no snapshot: the answer is then an empty board, not an error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.resources import resources
from api.responses import JSONResponse


def price_board(snapshot: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The response body for a published snapshot (or none): pairs in order, venues by price."""
    if snapshot is None:
        return {"success": True, "updatedAt": None, "ageSeconds": None, "pairs": []}
    by_pair: dict[str, list[dict[str, Any]]] = {}
    for entry in snapshot.get("prices", []):
        by_pair.setdefault(entry["pair"], []).append(
            {k: entry[k] for k in ("venue", "price", "feeRate", "kind")}
        )
    updated = datetime.fromisoformat(snapshot["updatedAt"].replace("Z", "+00:00"))
    return {
        "success": True,
        "updatedAt": snapshot["updatedAt"],
        "ageSeconds": round(max(0.0, (now - updated).total_seconds()), 3),
        "pairs": [
            {"pair": pair, "venues": sorted(venues, key=lambda v: v["venue"])}
            for pair, venues in sorted(by_pair.items())
        ],
    }


async def venue_prices(request: Request) -> Response:
    res = resources(request)
    raw = await res.redis.get(res.keys.venue_prices)
    snapshot: dict[str, Any] | None = orjson.loads(raw) if raw else None
    return JSONResponse(price_board(snapshot, datetime.now(UTC)))
