"""`GET /openapi.json`: the OpenAPI 3.1 document of the HTTP API, built once from the models."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api import openapi_schemas as schemas
from api.bodies import MAX_BODY_BYTES
from api.openapi_metrics import METRICS
from api.openapi_schemas import Schema
from api.orders_queries import DEFAULT_PAGE
from api.responses import JSONResponse
from commands.idempotency import KEY_PATTERN
from commands.place_order import PlaceOrder
from commands.pool_launch import LaunchPool

_SCHEMAS: dict[str, Schema] = {
    "Error": schemas.ERROR,
    "Order": schemas.ORDER,
    "Quote": schemas.QUOTE,
    "Event": schemas.EVENT,
    "OrderPlaced": schemas.PLACED,
    "OrderCancelled": schemas.CANCELLED,
    "PoolLaunched": schemas.POOL_LAUNCHED,
    "OrderAnswer": schemas.ORDER_ANSWER,
    "OrderPage": schemas.ORDER_PAGE,
    "OrderEvents": schemas.ORDER_EVENTS,
    "Metrics": METRICS,
    "PriceBoard": schemas.PRICE_BOARD,
    "Health": schemas.HEALTH,
    "StreamTicket": schemas.STREAM_TICKET,
}


def _ref(name: str) -> Schema:
    assert name in _SCHEMAS or name in ("PlaceOrder", "LaunchPool"), name
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    """The error answers of an endpoint that needs a key when keys are on (401 without one); every
    one may also answer 503 (a store unreachable)."""
    return {
        str(s): {"description": "error", "content": {"application/json": {"schema": _ref("Error")}}}
        for s in sorted({*statuses, 401, 503})
    }


# With keys on (API_KEYS, ADMIN_API_KEYS or `oee keys`), either header; with none, no key at all.
_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
_KEY_OR_NONE: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {}]


def _ok(description: str, schema: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
        **extra,
    }


def _order_link(operation_id: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {"order_id": "$response.body#/orderId"}}


_ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": schemas.ORDER_ID}
_ORDER_LINKS = {
    "links": {
        "GetOrder": _order_link("getOrder"),
        "GetOrderEvents": _order_link("getOrderEvents"),
        "CancelOrder": _order_link("cancelOrder"),
    }
}


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


@functools.cache
def document() -> dict[str, Any]:
    place_schema = PlaceOrder.model_json_schema(by_alias=True, mode="validation")
    launch_schema = LaunchPool.model_json_schema(by_alias=True, mode="validation")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Order Execution Engine",
            "version": "0.1.0",
            "description": (
                "Places swap orders, routes them to the best venue, reports every step. Live "
                "updates: WebSocket /api/orders/{id}/stream and /api/orders/stream/all"
                " (docs/websocket-api.md)."
            ),
        },
        "paths": {
            "/api/orders/execute": {
                "post": {
                    "operationId": "placeOrder",
                    "summary": "Place an order",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "pattern": KEY_PATTERN},
                            "description": "the same key and body place one order, 24 h long",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "description": f"JSON in UTF-8, at most {MAX_BODY_BYTES} bytes",
                        "content": {"application/json": {"schema": _ref("PlaceOrder")}},
                    },
                    "responses": {
                        "202": _ok(
                            "accepted: the order's OrderPlaced event is in the log",
                            "OrderPlaced",
                            **_ORDER_LINKS,
                        ),
                        **_errors(400, 409, 413, 415, 429),
                    },
                }
            },
            "/api/orders/{order_id}/cancel": {
                "post": {
                    "operationId": "cancelOrder",
                    "summary": "Cancel an order that was not submitted yet",
                    "parameters": [_ORDER_ID],
                    "responses": {
                        "200": _ok("cancelled", "OrderCancelled", **_ORDER_LINKS),
                        **_errors(404, 409),
                    },
                }
            },
            "/api/orders/{order_id}": {
                "get": {
                    "operationId": "getOrder",
                    "summary": "One order's current state",
                    "parameters": [_ORDER_ID],
                    "responses": {"200": _ok("the order", "OrderAnswer"), **_errors(404)},
                }
            },
            "/api/orders": {
                "get": {
                    "operationId": "listOrders",
                    "summary": "Orders, newest first, with keyset pagination",
                    "parameters": [
                        _query("status", schemas.STATUS, "only orders in this status"),
                        _query("tokenIn", schemas.TOKEN, "only orders selling this token"),
                        _query("tokenOut", schemas.TOKEN, "only orders buying this token"),
                        _query(
                            "limit",
                            {**schemas.PAGE_SIZE, "default": DEFAULT_PAGE},
                            "orders in a page",
                        ),
                        _query("cursor", {"type": "string"}, "a page's nextCursor"),
                    ],
                    "responses": {"200": _ok("a page of orders", "OrderPage"), **_errors(400)},
                }
            },
            "/api/orders/{order_id}/events": {
                "get": {
                    "operationId": "getOrderEvents",
                    "summary": "One order's events in sequence order",
                    "parameters": [_ORDER_ID],
                    "responses": {"200": _ok("the events", "OrderEvents"), **_errors(404)},
                }
            },
            "/api/stream-tickets": {
                "post": {
                    "operationId": "createStreamTicket",
                    "summary": "A single-use ticket that opens one WebSocket as the caller",
                    "description": (
                        "For browsers, which cannot send a key on a WebSocket handshake: open "
                        "the stream with ?ticket=<ticket> within expiresInSeconds."
                    ),
                    "responses": {
                        "201": _ok("the ticket", "StreamTicket"),
                        **_errors(),
                    },
                }
            },
            "/api/metrics": {
                "get": {
                    "operationId": "getMetrics",
                    "summary": "Queue and order figures",
                    "responses": {"200": _ok("figures", "Metrics"), **_errors()},
                }
            },
            "/api/venues/prices": {
                "get": {
                    "operationId": "getVenuePrices",
                    "summary": "Current spot price of every pool, per pair and venue",
                    "responses": {
                        "200": _ok("the price board (empty when no processor runs)", "PriceBoard"),
                        **_errors(),
                    },
                }
            },
            "/api/venues/pools": {
                "post": {
                    "operationId": "launchPool",
                    "summary": (
                        "Operator: launch a pool on a venue, listing tokenB when it is new"
                        " (with keys on: an admin key)"
                    ),
                    "requestBody": {
                        "required": True,
                        "description": f"JSON in UTF-8, at most {MAX_BODY_BYTES} bytes",
                        "content": {"application/json": {"schema": _ref("LaunchPool")}},
                    },
                    "responses": {
                        "201": _ok(
                            "launched: the pool's PoolLaunched event is in the log", "PoolLaunched"
                        ),
                        **_errors(400, 403, 409, 413, 415),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "getPrometheusMetrics",
                    "summary": "Prometheus metrics (with keys on: an operator's key)",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format 0.0.4",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_errors(403),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "getHealth",
                    "summary": "Health of the API and its dependencies",
                    "security": [],
                    "responses": {
                        "200": _ok("healthy", "Health"),
                        "503": _ok("unhealthy: Redis or PostgreSQL does not answer", "Health"),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["openapi", "info", "paths"],
                                    }
                                }
                            },
                        }
                    },
                }
            },
        },
        "security": _KEY_OR_NONE,
        "components": {
            "schemas": {"PlaceOrder": place_schema, "LaunchPool": launch_schema, **_SCHEMAS},
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document())
