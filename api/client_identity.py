"""Who is asking: one answer for HTTP requests and WebSocket handshakes alike, used by every limit
that is kept per client.
"""

from __future__ import annotations

import hashlib

from starlette.requests import HTTPConnection


def client_identity(connection: HTTPConnection) -> str:
    """The API key when one is sent (hashed, never kept as is), else the peer's address."""
    api_key = connection.headers.get("x-api-key")
    if api_key:
        return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:24]
    return "addr:" + (connection.client.host if connection.client else "unknown")
