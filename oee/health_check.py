"""`oee health GROUP`: an exit code for container healthchecks, from the consumers' health keys."""

from __future__ import annotations

from eventlog.connections import redis_client
from eventlog.health import live_consumers
from eventlog.keys import Keys
from eventlog.settings import Settings


async def check_health(settings: Settings, group: str) -> int:
    redis = redis_client(settings)
    try:
        live = await live_consumers(redis, Keys(settings.key_prefix))
    finally:
        await redis.aclose()
    consumers = live.get(group, [])
    print(f"{group}: {len(consumers)} live consumer(s) {' '.join(consumers)}")
    return 0 if consumers else 1
