"""Contract: placing orders over HTTP. Asserts only on this test's own orders, so it can run
against a deployment that holds other data.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

ORDER = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25"}


def test_health_answers_healthy(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["checks"]["redis"]["status"] == "up"
    assert response.json()["checks"]["postgres"]["status"] == "up"


def test_openapi_document_describes_the_order_endpoints(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "post" in document["paths"]["/api/orders/execute"]
    assert "amountIn" in document["components"]["schemas"]["PlaceOrder"]["properties"]


def test_placing_an_order_returns_its_id_and_stream(http: httpx.Client) -> None:
    response = http.post("/api/orders/execute", json=ORDER)
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert uuid.UUID(body["orderId"])
    assert body["status"] == "pending"
    assert body["websocketUrl"] == f"/api/orders/{body['orderId']}/stream"


def test_idempotent_placement_over_http(http: httpx.Client) -> None:
    key = f"contract-{uuid.uuid4()}"
    first = http.post("/api/orders/execute", json=ORDER, headers={"Idempotency-Key": key})
    second = http.post("/api/orders/execute", json=ORDER, headers={"Idempotency-Key": key})
    conflict = http.post(
        "/api/orders/execute", json={**ORDER, "amountIn": "0.5"}, headers={"Idempotency-Key": key}
    )
    assert first.json()["orderId"] == second.json()["orderId"]
    assert conflict.status_code == 409


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"orderType":"market"}', {"content-type": "application/json"}, 400),
        (b"{", {"content-type": "application/json"}, 400),
        (b"{}", {"content-type": "text/plain"}, 415),
        (b"[" + b"0," * 10_000 + b"0]", {"content-type": "application/json"}, 413),
    ],
)
def test_bad_requests_get_the_error_envelope(
    http: httpx.Client, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = http.post("/api/orders/execute", content=content, headers=headers)
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False
    assert body["error"]
    assert body["code"]


def test_unknown_paths_and_methods_get_the_error_envelope(http: httpx.Client) -> None:
    missing = http.get("/api/nothing-here")
    wrong_method = http.delete("/api/orders/execute")
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert wrong_method.status_code == 405
    assert wrong_method.json()["success"] is False
