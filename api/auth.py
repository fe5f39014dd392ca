"""Who is calling. Off by default: with no key in the settings and none made with `oee keys`, every
request is served as before (local development, `oee up`). With keys, every endpoint but
`/health`, `/openapi.json` and the dashboard page needs one: `Authorization: Bearer <key>` (or
`X-API-Key`), on HTTP and on the WebSocket handshake; a WebSocket may instead pass `?ticket=` (a
single-use ticket from `POST /api/stream-tickets`, for browsers), never the key itself. A request
without a known key gets 401 (a WebSocket the close code 4401). The caller is put in the request's
state for the endpoints.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import redis.asyncio as aioredis
from starlette.datastructures import Headers, QueryParams
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api.api_keys import Caller, key_hash, stored_keys
from api.responses import RETRY_UNAVAILABLE_AFTER_S, ApiError, error_body
from api.stream_messages import error_message
from api.ticket_store import redeem_ticket
from eventlog.keys import Keys
from eventlog.settings import Settings
from eventlog.store_errors import STORES_UNAVAILABLE

OPEN_PATHS = frozenset({"/health", "/openapi.json", "/"})
OPEN_PREFIXES = ("/static/",)
UNAUTHORIZED_CLOSE = 4401
_CALLER = "caller"


class KeyRing:
    """The keys of the settings and those made with `oee keys` (re-read from Redis at most every
    `api_keys_refresh_seconds`, so a key made or revoked takes effect that soon)."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: Settings) -> None:
        self._redis, self._keys = redis, keys
        self._given = {
            key_hash(key): Caller(client, admin) for client, key, admin in settings.key_pairs()
        }
        self._stored: dict[str, Caller] = {}
        self._refresh_s = settings.api_keys_refresh_seconds
        self._read_at = -float("inf")
        self._reading = asyncio.Lock()
        self._any_stored = False
        self._ever_read = False

    async def _current(self) -> dict[str, Caller]:
        """The stored keys not revoked. While Redis cannot be read, the last ones read serve
        (tried again after the refresh interval); before any read succeeded, the error is
        raised: the API cannot tell whether keys are on."""
        if time.monotonic() - self._read_at >= self._refresh_s:
            async with self._reading:
                if time.monotonic() - self._read_at >= self._refresh_s:
                    await self._read()
        return self._stored

    async def _read(self) -> None:
        try:
            found = await stored_keys(self._redis, self._keys)
        except STORES_UNAVAILABLE:
            if not self._ever_read:
                raise
            self._read_at = time.monotonic()
            return
        self._stored = {
            digest: Caller(k.client, k.admin) for digest, k in found.items() if k.revoked is None
        }
        # A revoked key is still known: keys stay on once any was ever made.
        self._any_stored = bool(found)
        self._ever_read = True
        self._read_at = time.monotonic()

    async def enabled(self) -> bool:
        """True when any key exists: then every request but the open ones needs one. Keys in
        the settings are known without reading Redis."""
        if self._given:
            return True
        await self._current()
        return self._any_stored

    async def caller(self, key: str) -> Caller | None:
        digest = key_hash(key)
        return self._given.get(digest) or (await self._current()).get(digest)


def presented_key(headers: Headers) -> str | None:
    """The key a request carries: `Authorization: Bearer <key>`, else `X-API-Key`."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key") or None


def presented_ticket(scope: Scope) -> str | None:
    """A WebSocket handshake's `?ticket=` (HTTP requests never authenticate by URL)."""
    if scope["type"] != "websocket":
        return None
    return QueryParams(scope.get("query_string", b"")).get("ticket") or None


def caller_of(connection: HTTPConnection) -> Caller | None:
    """The authenticated caller; None when keys are off (then every caller sees everything)."""
    found: Caller | None = connection.scope.get("state", {}).get(_CALLER)
    return found


def sees_everything(connection: HTTPConnection) -> bool:
    caller = caller_of(connection)
    return caller is None or caller.admin


def may_see(connection: HTTPConnection, owner: str | None) -> bool:
    """Whether the caller may see an order owned by client id `owner` (404 otherwise)."""
    caller = caller_of(connection)
    return caller is None or caller.admin or owner == client_id_of(caller)


def require_operator(connection: HTTPConnection) -> None:
    """Operator endpoints: with keys on, an admin key only (403 for a client's key)."""
    if not sees_everything(connection):
        raise ApiError(403, "FORBIDDEN", "this endpoint needs an operator's (admin) key")


def client_id_of(caller: Caller) -> str:
    """The id a keyed client's orders carry in the log (and the read model)."""
    return f"client:{caller.client}"


class AuthMiddleware:
    """Puts the caller in the request's state, or answers 401 (a WebSocket: close 4401)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or _is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        res = scope["app"].state.resources
        ring: KeyRing = res.key_ring
        key = presented_key(Headers(scope=scope))
        ticket = presented_ticket(scope) if key is None else None
        try:
            if not await ring.enabled():
                await self.app(scope, receive, send)
                return
            if key is not None:
                caller = await ring.caller(key)
            elif ticket is not None:
                caller = await redeem_ticket(res.redis, res.keys, ticket)
            else:
                caller = None
        except STORES_UNAVAILABLE:
            message = "the event log is unreachable, so API keys cannot be checked: not accepted"
            await _answer(scope, receive, send, 503, "SERVICE_UNAVAILABLE", message)
            return
        if caller is None:
            if key is not None:
                message = "the API key is not valid"
            elif ticket is not None:
                message = "the stream ticket is not valid (unknown, used or expired)"
            else:
                message = "an API key is required"
            await _answer(scope, receive, send, 401, "UNAUTHORIZED", message)
            return
        scope.setdefault("state", {})[_CALLER] = caller
        await self.app(scope, receive, send)


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


_WS_CLOSE_CODES = {401: UNAUTHORIZED_CLOSE, 503: 1011}


async def _answer(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
) -> None:
    """A refusal before the app: the error envelope (a WebSocket: an error message, a close)."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": error_message(code, message)})
        await send({"type": "websocket.close", "code": _WS_CLOSE_CODES[status], "reason": message})
        return
    body = orjson.dumps(error_body(code, message))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="oee"'))
    else:
        headers.append((b"retry-after", b"%d" % RETRY_UNAVAILABLE_AFTER_S))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
