"""`GET /openapi.json`: the OpenAPI 3.1 document of the HTTP API, built once from the models."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.responses import JSONResponse
from commands.place_order import PlaceOrder
from schema.statuses import OrderStatus

_ERROR = {
    "type": "object",
    "required": ["success", "error", "code"],
    "properties": {
        "success": {"const": False},
        "error": {"type": "string"},
        "code": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    """The error answers of an endpoint; every one may also answer 503 (a store unreachable)."""
    return {
        str(s): {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in (*statuses, 503)
    }


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def _counts(descriptions: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(descriptions),
        "properties": {
            name: {"type": "integer", "minimum": 0, "description": text}
            for name, text in descriptions.items()
        },
    }


_ORDER_FIGURES = {
    **{status.value: f"orders {status.value}" for status in OrderStatus},
    "total": "every order, the sum of the statuses above",
    "processing": "orders routing, building or submitted (retries included; pending is not)",
    "completed": "orders confirmed (the same as confirmed)",
}

_METRICS = {
    "type": "object",
    "required": ["success", "queue", "orders", "timestamp"],
    "properties": {
        "success": {"const": True},
        "queue": _counts(
            {
                "waiting": "orders pending: placed, not yet taken by a processor",
                "active": "orders routing, building or submitted, not waiting for a retry",
                "completed": "orders confirmed",
                "failed": "orders failed for good",
                "delayed": "orders waiting for a retry after a failed attempt",
            }
        ),
        "orders": _counts(_ORDER_FIGURES),
        "timestamp": {"type": "string", "format": "date-time", "pattern": "Z$"},
    },
}

_ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}


@functools.cache
def document() -> dict[str, Any]:
    place_schema = PlaceOrder.model_json_schema(by_alias=True, mode="validation")
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
                    "summary": "Place an order",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/PlaceOrder"}
                            }
                        },
                    },
                    "responses": {
                        "202": _ok("accepted: the order's OrderPlaced event is in the log"),
                        **_errors(400, 409, 413, 415, 429),
                    },
                }
            },
            "/api/orders/{order_id}/cancel": {
                "post": {
                    "summary": "Cancel an order that was not submitted yet",
                    "parameters": [_ORDER_ID],
                    "responses": {"200": _ok("cancelled"), **_errors(404, 409)},
                }
            },
            "/api/orders/{order_id}": {
                "get": {
                    "summary": "One order's current state",
                    "parameters": [_ORDER_ID],
                    "responses": {"200": _ok("the order"), **_errors(404)},
                }
            },
            "/api/orders": {
                "get": {
                    "summary": "Orders, newest first, with keyset pagination",
                    "parameters": [
                        {"name": "status", "in": "query", "schema": {"enum": list(OrderStatus)}},
                        {"name": "tokenIn", "in": "query", "schema": {"type": "string"}},
                        {"name": "tokenOut", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _ok("a page of orders"), **_errors(400)},
                }
            },
            "/api/orders/{order_id}/events": {
                "get": {
                    "summary": "One order's events in sequence order",
                    "parameters": [_ORDER_ID],
                    "responses": {"200": _ok("the events"), **_errors(404)},
                }
            },
            "/api/metrics": {
                "get": {
                    "summary": "Queue and order figures",
                    "responses": {"200": _ok("figures", _METRICS)},
                }
            },
            "/api/venues/prices": {
                "get": {
                    "summary": "Current spot price of every pool, per pair and venue",
                    "responses": {"200": _ok("the price board (empty when no processor runs)")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {"description": "text format", "content": {"text/plain": {}}}
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Health of the API and its dependencies",
                    "responses": {"200": _ok("healthy"), "503": _ok("unhealthy")},
                }
            },
        },
        "components": {"schemas": {"PlaceOrder": place_schema, "Error": _ERROR}},
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document())
