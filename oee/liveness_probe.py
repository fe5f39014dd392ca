"""`oee health GROUP`: an exit code for container healthchecks, from the consumers' health keys.

Consumers are named `<hostname>-<pid>` unless named explicitly, so by default the check asks for a
live consumer of GROUP on this host (this container); `--anywhere` accepts one on any host.
"""

from __future__ import annotations

from eventlog.connections import redis_client
from eventlog.consumer_health import live_consumers
from eventlog.settings import Settings
from oee.wiring import named_on_this_host


async def check_health(settings: Settings, group: str, *, anywhere: bool = False) -> int:
    redis = redis_client(settings)
    try:
        live = await live_consumers(redis, settings.log_keys())
    finally:
        await redis.aclose()
    consumers = live.get(group, [])
    if not anywhere:
        consumers = [c for c in consumers if named_on_this_host(c)]
    print(f"{group}: {len(consumers)} live consumer(s) {' '.join(consumers)}".rstrip())
    return 0 if consumers else 1
