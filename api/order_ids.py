"""Order ids in request paths, for the command and the query endpoints alike: a malformed id is
answered as an unknown one (404), so ids are never probed for their format."""

from __future__ import annotations

import uuid

from api.responses import ApiError


def parse_order_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ApiError(404, "ORDER_NOT_FOUND", f"order {raw!r} not found") from None
