"""The Starlette application: routes, error envelopes, and the resources opened in its lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Route

from api.auth import AuthMiddleware
from api.dashboard import dashboard_routes
from api.health_endpoint import health
from api.metrics import api_metrics, prometheus_metrics
from api.openapi import openapi
from api.orders_commands import cancel_order, place_order
from api.orders_queries import get_order, get_order_events, list_orders
from api.price_board import venue_prices
from api.resources import Resources
from api.responses import (
    ApiError,
    api_error_handler,
    client_gone_handler,
    http_error_handler,
    unavailable_error_handler,
    unexpected_error_handler,
)
from api.stream_routes import stream_routes
from api.stream_tickets import create_stream_ticket
from api.venue_commands import launch_pool
from eventlog.store_errors import STORES_UNAVAILABLE


def build_routes() -> list[BaseRoute]:
    return [
        Route("/health", health),
        Route("/openapi.json", openapi),
        Route("/api/orders/execute", place_order, methods=["POST"]),
        Route("/api/orders/{order_id}/cancel", cancel_order, methods=["POST"]),
        Route("/api/stream-tickets", create_stream_ticket, methods=["POST"]),
        *stream_routes(),
        Route("/api/orders", list_orders),
        Route("/api/orders/{order_id}", get_order),
        Route("/api/orders/{order_id}/events", get_order_events),
        Route("/api/metrics", api_metrics),
        Route("/metrics", prometheus_metrics),
        Route("/api/venues/prices", venue_prices),
        Route("/api/venues/pools", launch_pool, methods=["POST"]),
        *dashboard_routes(),
    ]


def create_app(open_resources: Callable[[], AbstractAsyncContextManager[Resources]]) -> Starlette:
    """The app; `open_resources` (from the composition root) opens what it holds while it runs."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_resources() as opened:
            app.state.resources = opened
            yield

    return Starlette(
        routes=build_routes(),
        lifespan=lifespan,
        middleware=[Middleware(AuthMiddleware)],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            ClientDisconnect: client_gone_handler,
            **dict.fromkeys(STORES_UNAVAILABLE, unavailable_error_handler),
            Exception: unexpected_error_handler,
        },
    )
