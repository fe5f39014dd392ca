"""The Starlette application: routes, error envelopes, and the resources opened in its lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route

from api.dashboard import dashboard_routes
from api.health import health
from api.metrics import api_metrics, prometheus_metrics
from api.openapi import openapi
from api.order_lookup import OrderLookup
from api.orders_commands import cancel_order, place_order
from api.orders_queries import get_order, get_order_events, list_orders
from api.relay import LogRelay
from api.resources import Resources
from api.responses import (
    ApiError,
    api_error_handler,
    http_error_handler,
    unavailable_error_handler,
    unexpected_error_handler,
)
from api.streams import stream_routes
from api.venue_prices import venue_prices
from commands.order_intake import OrderIntake
from eventlog.append import EventAppender
from eventlog.connections import postgres_pool, redis_client
from eventlog.keys import Keys
from eventlog.settings import Settings
from eventlog.store_errors import STORES_UNREACHABLE


def build_routes() -> list[BaseRoute]:
    return [
        Route("/health", health),
        Route("/openapi.json", openapi),
        Route("/api/orders/execute", place_order, methods=["POST"]),
        Route("/api/orders/{order_id}/cancel", cancel_order, methods=["POST"]),
        *stream_routes(),
        Route("/api/orders", list_orders),
        Route("/api/orders/{order_id}", get_order),
        Route("/api/orders/{order_id}/events", get_order_events),
        Route("/api/metrics", api_metrics),
        Route("/metrics", prometheus_metrics),
        Route("/api/venues/prices", venue_prices),
        *dashboard_routes(),
    ]


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = redis_client(settings)
        pool = postgres_pool(
            settings, min_size=2, max_size=20, timeout=settings.api_store_timeout_seconds
        )
        await pool.open(wait=False)
        keys = Keys(settings.key_prefix)
        appender = EventAppender(redis, keys)
        intake = OrderIntake(redis, appender, keys, settings)
        app.state.resources = Resources(
            settings,
            keys,
            redis,
            pool,
            appender,
            intake,
            OrderLookup(pool),
        )
        app.state.relay = relay = LogRelay(redis, keys, settings)
        await relay.start()
        try:
            yield
        finally:
            await relay.stop()
            await pool.close()
            await redis.aclose()

    return Starlette(
        routes=build_routes(),
        lifespan=lifespan,
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            **dict.fromkeys(STORES_UNREACHABLE, unavailable_error_handler),
            Exception: unexpected_error_handler,
        },
    )
