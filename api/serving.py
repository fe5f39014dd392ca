"""How an API process is served: uvicorn's settings and the collector's tuning, in one place for
`oee api`, the benchmarks and the tests, so that what is measured is what runs.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from api.http_protocol import bounded_http_protocol
from eventlog.gc_tuning import SERVING_THRESHOLD, fewer_collections
from eventlog.settings import Settings

SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    # The `http` protocol is httptools' with the request bounds: see server_options.
    # The sans-I/O protocol of `websockets`: the least CPU per message sent. Fanning out 20,000
    # messages/s to 1,000 sockets it took about 22 µs of server CPU a message, 26 KiB an idle
    # socket; uvicorn's older `websockets` protocol 26 µs and 34 KiB, `wsproto` (one more
    # dependency) 24-26 µs and 25 KiB. Most of the 22 µs is the kernel's send on each socket.
    "ws": "websockets-sansio",
    # Without per-message deflate an idle socket costs about 26 KiB instead of 63 KiB and a
    # message about half the CPU; order updates are small, so compression gains little.
    "ws_per_message_deflate": False,
    "access_log": False,
    "log_config": None,  # uvicorn logs through the root handler (oee.runtime.configure_logging)
}


def server_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """uvicorn's keyword arguments for the API on `settings.host:settings.port`."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # Bounds: a client sends only pings, so a large frame is refused (1009) before it is
        # read into memory; past `api_max_connections` a request is answered 503, not queued.
        "ws_max_size": settings.ws_max_client_frame_bytes,
        "limit_concurrency": settings.api_max_connections,
        # A request's head and body must arrive in time (408), its URL and head be short enough
        # (414, 431): a slow or oversized request cannot hold a connection for ever.
        "http": bounded_http_protocol(settings),
        # X-Forwarded-For is believed only from the proxies named in OEE_TRUSTED_PROXIES (then
        # the client's address, which every per-client limit counts by, is the one it names);
        # by default from no one, so a client cannot choose the address it is counted under.
        "proxy_headers": bool(settings.trusted_proxy_list),
        "forwarded_allow_ips": settings.trusted_proxy_list,
        **SERVER_OPTIONS,
        **overrides,
    }


def serve(app: ASGIApp, settings: Settings, **overrides: Any) -> None:
    """Run the API in this process until it is signalled to stop."""
    with fewer_collections(SERVING_THRESHOLD):
        uvicorn.run(app, **server_options(settings, **overrides))


def serve_on(listener: socket.socket, app: ASGIApp, settings: Settings) -> None:
    """Run the API in this process on a socket already listening (one of several workers)."""
    with fewer_collections(SERVING_THRESHOLD):
        uvicorn.Server(uvicorn.Config(app, **server_options(settings))).run(sockets=[listener])
