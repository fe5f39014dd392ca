"""What the API holds open while it runs: opened by the composition root (`oee.wiring`) in the
app's lifespan, closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from psycopg_pool import AsyncConnectionPool
from starlette.requests import HTTPConnection

from api.auth import KeyRing
from api.finished_views import FinishedViews
from api.health_watch import HealthWatch
from api.live_orders import LiveOrders
from api.order_lookup import OrderLookup
from api.relay import LogRelay
from api.stream_admission import StreamAdmission
from commands.order_intake import OrderIntake
from eventlog.archive_source import ArchiveSource
from eventlog.keys import Keys
from eventlog.settings import Settings


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    keys: Keys
    redis: aioredis.Redis
    pool: AsyncConnectionPool
    intake: OrderIntake
    orders: OrderLookup
    relay: LogRelay
    streams: StreamAdmission
    key_ring: KeyRing
    health: HealthWatch
    finished: FinishedViews
    live: LiveOrders
    archive: ArchiveSource | None = None  # the log's history once trimmed from Redis


def resources(connection: HTTPConnection) -> Resources:
    found: Resources = connection.app.state.resources
    return found
