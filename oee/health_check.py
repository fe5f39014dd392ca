"""`oee health GROUP`: an exit code for container healthchecks, from the consumers' health keys.

Consumers are named `<hostname>-<pid>` unless named explicitly, so by default the check asks for a
live consumer of GROUP on this host (this container); `--anywhere` accepts one on any host.
"""

from __future__ import annotations

import os
import socket

from eventlog.connections import redis_client
from eventlog.health import live_consumers
from eventlog.keys import Keys
from eventlog.settings import Settings


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def check_health(settings: Settings, group: str, *, anywhere: bool = False) -> int:
    redis = redis_client(settings)
    try:
        live = await live_consumers(redis, Keys(settings.key_prefix))
    finally:
        await redis.aclose()
    consumers = live.get(group, [])
    if not anywhere:
        host = socket.gethostname()
        consumers = [c for c in consumers if c.startswith(f"{host}-")]
    print(f"{group}: {len(consumers)} live consumer(s) {' '.join(consumers)}".rstrip())
    return 0 if consumers else 1
