"""Reading request bodies safely: JSON only, 16 KiB at most, decimals kept exact.

Anything else is a 4xx with the error envelope; no body can make the API answer 500.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from api.responses import ApiError

MAX_BODY_BYTES = 16 * 1024


def _is_json(content_type: str) -> bool:
    media, _, parameters = content_type.partition(";")
    charset = parameters.strip().lower()
    return media.strip().lower() == "application/json" and charset in ("", "charset=utf-8")


async def read_json(request: Request) -> Any:
    if not _is_json(request.headers.get("content-type", "")):
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "the body must be JSON in UTF-8 (Content-Type: application/json)",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    try:
        # parse_float=Decimal keeps 0.1 as exactly 0.1: amounts are never rounded through floats.
        text = b"".join(chunks).decode("utf-8")  # JSON in UTF-8 only (RFC 8259), never guessed
        return json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "INVALID_JSON", f"the body is not valid JSON: {exc}") from None


def _too_large() -> ApiError:
    return ApiError(413, "PAYLOAD_TOO_LARGE", f"the body is over {MAX_BODY_BYTES // 1024} KiB")
