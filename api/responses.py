"""JSON responses and API errors in the seed's envelope (`success`, camelCase fields).

Every error, whatever raised it, leaves as `{success:false, error, code, details}` with a 4xx/5xx.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=str)


class ApiError(Exception):
    """An answer to a request that cannot be served, with its HTTP status and a stable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> Any:
    return {"success": False, "error": message, "code": code, "details": details or []}


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
    )


_HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", None) or "error"
    return JSONResponse(
        error_body(_HTTP_CODES.get(status, "ERROR"), str(detail)),
        status_code=status,
        headers=getattr(exc, "headers", None),
    )


RETRY_UNAVAILABLE_AFTER_S = 1


def unavailable(
    message: str, *, retry: bool = True, details: list[dict[str, Any]] | None = None
) -> ApiError:
    """503: a data store is unreachable. `retry` adds Retry-After, for requests safe to repeat."""
    headers = {"Retry-After": str(RETRY_UNAVAILABLE_AFTER_S)} if retry else None
    return ApiError(503, "SERVICE_UNAVAILABLE", message, details=details, headers=headers)


async def unavailable_error_handler(request: Request, exc: Exception) -> Response:
    # Not the client's fault and not a bug: say so, and when to try again.
    return await api_error_handler(
        request, unavailable("a data store is unreachable; try again shortly")
    )


async def client_gone_handler(request: Request, exc: Exception) -> Response:
    # The client went away (or was disconnected for sending too slowly) before its body was
    # read: nobody will read this answer, and nothing went wrong in the API.
    return JSONResponse(
        error_body("CLIENT_DISCONNECTED", "the client disconnected before its body was read"),
        status_code=400,
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback; the client gets the envelope, never an HTML page.
    return JSONResponse(error_body("INTERNAL_ERROR", "internal error"), status_code=500)
