"""Who is asking: one answer for HTTP requests and WebSocket handshakes alike, used by every limit
that is kept per client.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from api.auth import caller_of, client_id_of


def client_identity(connection: HTTPConnection) -> str:
    """The client its API key names (`client:<name>`); with keys off, the peer's address
    (`addr:<ip>`: behind a proxy named in `OEE_TRUSTED_PROXIES`, the address it forwards)."""
    caller = caller_of(connection)
    if caller is not None:
        return client_id_of(caller)
    return "addr:" + (connection.client.host if connection.client else "unknown")
