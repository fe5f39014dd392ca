"""How an API process is served: uvicorn's settings and the collector's tuning, in one place for
`oee api`, the benchmarks and the tests, so that what is measured is what runs.
"""

from __future__ import annotations

import gc
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from eventlog.settings import Settings

SERVER_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    # The sans-I/O protocol of `websockets`: the least CPU per message sent. Fanning out 20,000
    # messages/s to 1,000 sockets it took about 22 µs of server CPU a message, 26 KiB an idle
    # socket; uvicorn's older `websockets` protocol 26 µs and 34 KiB, `wsproto` (one more
    # dependency) 24-26 µs and 25 KiB. Most of the 22 µs is the kernel's send on each socket.
    "ws": "websockets-sansio",
    # Without per-message deflate an idle socket costs about 26 KiB instead of 63 KiB and a
    # message about half the CPU; order updates are small, so compression gains little.
    "ws_per_message_deflate": False,
    "access_log": False,
}

# Young collections only after this many more container objects are alive than were at the last
# one. Fanning an event out leaves one waiting future per socket alive a little longer; at the
# default 700 every fan-out triggered young collections that moved those futures to the old
# generation, which then filled fast enough for a full collection over every socket's objects
# (over 100 ms with 1,000 sockets) every few seconds: that was the delivery latency's p99. In
# steady state the objects die by reference counting and no collection runs at all.
YOUNG_COLLECTION_THRESHOLD = 10_000


def tune_collector() -> None:
    """Keep the cyclic collector out of the way of fan-out: freeze what start-up allocated (it
    lives as long as the process; full collections skip it) and collect the young less often."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def server_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """uvicorn's keyword arguments for the API on `settings.host:settings.port`."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        **SERVER_OPTIONS,
        **overrides,
    }


def serve(app: ASGIApp, settings: Settings, **overrides: Any) -> None:
    """Run the API in this process until it is signalled to stop."""
    tune_collector()
    uvicorn.run(app, **server_options(settings, **overrides))
