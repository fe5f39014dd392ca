"""POST /api/orders/execute and POST /api/orders/{id}/cancel through the app, on real servers."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from bench.sample_histories import append_histories, build_histories
from eventlog.append import EventAppender
from eventlog.keys import Keys
from eventlog.reading import read_after, read_order
from schema.events import OrderPlaced
from schema.migrate import migrate
from tests.support.in_process_api import in_process_api
from tests.support.settings import MakeSettings

pytestmark = pytest.mark.on_cluster_too

GOOD = {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5"}


async def _log_length(redis: aioredis.Redis, keys: Keys) -> int:
    return len(await read_after(redis, keys, "0"))


async def test_an_accepted_order_is_in_the_log_with_exact_amounts(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    response = await api.post("/api/orders/execute", json={**GOOD, "amountIn": 0.1, "slippage": 0})
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert body["status"] == "pending"
    assert body["websocketUrl"] == f"/api/orders/{body['orderId']}/stream"
    [placed] = await read_after(redis, keys, "0")
    assert str(placed.event.order_id) == body["orderId"]
    assert placed.position == body["position"]
    assert isinstance(placed.event.payload, OrderPlaced)
    assert str(placed.event.payload.amount_in) == "0.1"
    assert str(placed.event.payload.slippage) == "0"


@pytest.mark.parametrize(
    ("expires_in", "seconds"), [(None, 86_400), (90, 90), (2_592_000, 2_592_000)]
)
async def test_a_limit_order_is_accepted_with_its_price_and_expiry(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys, expires_in: int | None, seconds: int
) -> None:
    body: dict[str, Any] = {**GOOD, "orderType": "limit", "limitPrice": "181.25"}
    if expires_in is not None:
        body["expiresInSeconds"] = expires_in
    response = await api.post("/api/orders/execute", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    [placed] = await read_after(redis, keys, "0")
    payload = placed.event.payload
    assert isinstance(payload, OrderPlaced)
    assert (payload.order_type, str(payload.limit_price)) == ("limit", "181.25")
    assert payload.expires_at is not None
    assert (payload.expires_at - placed.event.occurred_at).total_seconds() == seconds


async def test_slippage_defaults_to_the_setting(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    await api.post("/api/orders/execute", json=GOOD)
    [placed] = await read_after(redis, keys, "0")
    assert isinstance(placed.event.payload, OrderPlaced)
    assert str(placed.event.payload.slippage) == "0.01"


@pytest.mark.parametrize("slippage", [0.51, 1, "1.0"])
async def test_a_slippage_up_to_1_is_accepted_as_in_the_original(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys, slippage: float | str
) -> None:
    response = await api.post("/api/orders/execute", json={**GOOD, "slippage": slippage})
    assert response.status_code == 202, response.text
    [placed] = await read_after(redis, keys, "0")
    assert isinstance(placed.event.payload, OrderPlaced)
    assert placed.event.payload.slippage == Decimal(str(slippage))


async def test_the_openapi_document_gives_the_slippage_range(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    slippage = document["components"]["schemas"]["PlaceOrder"]["properties"]["slippage"]
    number, text, null = slippage["anyOf"]
    assert (number["type"], number["minimum"], number["maximum"]) == ("number", 0, 1)
    assert text["pattern"] == r"^[0-9]+(\.[0-9]{1,9})?$"
    assert null == {"type": "null"}


BAD_BODIES: list[tuple[Any, str]] = [
    ({**GOOD, "amountIn": 0}, "amountIn"),
    ({**GOOD, "amountIn": -1}, "amountIn"),
    ({**GOOD, "amountIn": "abc"}, "amountIn"),
    ({**GOOD, "amountIn": "NaN"}, "amountIn"),
    ({**GOOD, "amountIn": "Infinity"}, "amountIn"),
    ({**GOOD, "amountIn": True}, "amountIn"),
    ({**GOOD, "amountIn": None}, "amountIn"),
    ({**GOOD, "amountIn": "1.0000000001"}, "amountIn"),  # SOL has 9 decimals
    ({**GOOD, "tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "1.0000001"}, "amountIn"),
    ({**GOOD, "amountIn": "1e13"}, "amountIn"),
    ({k: v for k, v in GOOD.items() if k != "amountIn"}, "amountIn"),
    ({**GOOD, "tokenOut": "SOL"}, "tokenIn"),
    ({**GOOD, "tokenIn": "DOGE"}, "tokenIn"),
    ({**GOOD, "tokenOut": 5}, "tokenOut"),
    ({**GOOD, "slippage": "1.000000001"}, "slippage"),
    ({**GOOD, "slippage": 1.5}, "slippage"),
    ({**GOOD, "slippage": -0.01}, "slippage"),
    ({**GOOD, "orderType": "stop"}, "orderType"),
    ({**GOOD, "orderType": "limit"}, "limitPrice"),
    ({**GOOD, "orderType": "limit", "limitPrice": "0"}, "limitPrice"),
    (
        {**GOOD, "orderType": "limit", "limitPrice": "150", "expiresInSeconds": 2_592_001},
        "expiresInSeconds",
    ),
    ({**GOOD, "limitPrice": "150"}, "limitPrice"),
    ({**GOOD, "expiresInSeconds": 60}, "expiresInSeconds"),
    ({**GOOD, "slipage": 0.01}, "slipage"),
    ({**GOOD, "expiresInSeconds": 0}, "expiresInSeconds"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_a_bad_field_is_refused_by_name_and_changes_nothing(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys, body: Any, field: str
) -> None:
    response = await api.post("/api/orders/execute", json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["success"] is False
    assert answer["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in answer["details"]], answer
    assert await _log_length(redis, keys) == 0


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "INVALID_JSON"),
        (b"", "application/json", 400, "INVALID_JSON"),
        (b"\xff\xfe", "application/json", 400, "INVALID_JSON"),
        (b"[" * 100_00 + b"]" * 100_00, "application/json", 413, "PAYLOAD_TOO_LARGE"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "INVALID_JSON"),
        (b"[1, 2]", "application/json", 400, "VALIDATION_ERROR"),
        (b'"text"', "application/json", 400, "VALIDATION_ERROR"),
        (b"orderType=market", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"{}", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"a": "' + b"x" * 17_000 + b'"}', "application/json", 413, "PAYLOAD_TOO_LARGE"),
    ],
)
async def test_bodies_that_are_not_an_order_get_a_clear_4xx(
    api: httpx.AsyncClient,
    redis: aioredis.Redis,
    keys: Keys,
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    response = await api.post(
        "/api/orders/execute", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["success"] is False
    assert await _log_length(redis, keys) == 0


async def test_the_same_idempotency_key_and_body_place_one_order(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = await api.post("/api/orders/execute", json=GOOD, headers=headers)
    reordered = dict(reversed(list(GOOD.items())))
    second = await api.post("/api/orders/execute", json=reordered, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["orderId"] == second.json()["orderId"]
    assert second.json()["replayed"] is True
    assert await _log_length(redis, keys) == 1


async def test_the_same_idempotency_key_with_another_body_is_a_conflict(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    headers = {"Idempotency-Key": "order-43"}
    await api.post("/api/orders/execute", json=GOOD, headers=headers)
    other = await api.post("/api/orders/execute", json={**GOOD, "amountIn": "2"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _log_length(redis, keys) == 1


async def test_neither_the_log_nor_any_redis_key_keeps_the_raw_idempotency_key(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    raw_key = "invoice-2024-0042-acme"
    digest = hashlib.sha256(raw_key.encode()).hexdigest()
    headers = {"Idempotency-Key": raw_key}
    first = await api.post("/api/orders/execute", json=GOOD, headers=headers)
    again = await api.post("/api/orders/execute", json=GOOD, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["orderId"] == first.json()["orderId"]
    entries: Any = await redis.xrange(keys.events)
    stored: list[bytes] = [
        field + b"=" + value for _, entry in entries for field, value in entry.items()
    ]
    names: list[bytes] = [key async for key in redis.scan_iter(match=keys.all(), count=1000)]
    stored += names
    for name in names:
        if await redis.type(name) == b"string":
            value: Any = await redis.get(name)
            stored.append(value)
    assert stored, "the placement left nothing in Redis"
    assert not [item for item in stored if raw_key.encode() in item]
    assert any(digest.encode() in item for item in stored if item.startswith(b"data="))
    assert any(digest.encode() in item for item in stored if b":idempotency:" in item)


async def test_an_unusable_idempotency_key_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/orders/execute", json=GOOD, headers={"Idempotency-Key": "x" * 300}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_IDEMPOTENCY_KEY"


async def test_the_intake_limit_answers_429_with_retry_after(
    make_settings: MakeSettings, redis: aioredis.Redis, keys: Keys
) -> None:
    alice, bob = {"X-API-Key": "alice-key-0123456789"}, {"X-API-Key": "bob-key-0123456789"}
    settings = make_settings(
        intake_rate_limit_per_minute=3,
        api_keys=f"alice:{alice['X-API-Key']},bob:{bob['X-API-Key']}",
    )
    migrate(settings.require_database_url())
    async with in_process_api(settings) as client:
        statuses = [
            (await client.post("/api/orders/execute", json=GOOD, headers=alice)).status_code
            for _ in range(3)
        ]
        limited = await client.post("/api/orders/execute", json=GOOD, headers=alice)
        other_client = await client.post("/api/orders/execute", json=GOOD, headers=bob)
    assert statuses == [202, 202, 202]
    assert limited.status_code == 429
    assert limited.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert other_client.status_code == 202
    assert await _log_length(redis, keys) == 4


async def test_with_keys_off_a_client_cannot_escape_the_intake_limit_by_naming_itself(
    make_settings: MakeSettings, redis: aioredis.Redis, keys: Keys
) -> None:
    settings = make_settings(intake_rate_limit_per_minute=2)
    migrate(settings.require_database_url())
    async with in_process_api(settings) as client:
        statuses = [
            (
                await client.post(
                    "/api/orders/execute", json=GOOD, headers={"X-API-Key": f"label-{n}"}
                )
            ).status_code
            for n in range(4)
        ]
    assert statuses == [202, 202, 429, 429]  # the client is its address, whatever it sends
    assert await _log_length(redis, keys) == 2


async def test_a_pending_order_is_cancelled_once_and_a_retried_cancel_gets_the_same_answer(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    order_id = (await api.post("/api/orders/execute", json=GOOD)).json()["orderId"]
    cancelled = await api.post(f"/api/orders/{order_id}/cancel")
    again = await api.post(f"/api/orders/{order_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["replayed"] is False
    assert again.status_code == 200, again.text
    assert again.json()["replayed"] is True
    assert again.json()["position"] == cancelled.json()["position"]
    import uuid

    history = await read_order(redis, keys, uuid.UUID(order_id))
    assert [r.event.type for r in history] == ["OrderPlaced", "OrderCancelled"]


@pytest.mark.parametrize("order_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
async def test_cancelling_an_unknown_order_is_404(api: httpx.AsyncClient, order_id: str) -> None:
    response = await api.post(f"/api/orders/{order_id}/cancel")
    assert response.status_code == 404
    assert response.json()["code"] == "ORDER_NOT_FOUND"


async def test_an_order_past_submission_cannot_be_cancelled(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys
) -> None:
    events = build_histories(20, seed=4)
    await append_histories(EventAppender(redis, keys), events)
    confirmed = next(e.order_id for e in events if e.type == "OrderConfirmed")
    response = await api.post(f"/api/orders/{confirmed}/cancel")
    assert response.status_code == 409
    assert response.json()["code"] == "TOO_LATE_TO_CANCEL"
    history = await read_order(redis, keys, confirmed)
    assert history[-1].event.type == "OrderConfirmed"


HOSTILE_VALUES = {
    "an exponent that GET would expand to a gigabyte": ("slippage", "1e-999999999"),
    "an exponent PostgreSQL cannot store": ("slippage", "1e-17000"),
    "a JSON number with a huge exponent": ("slippage", Decimal("1E-17000")),
    "underscores": ("amountIn", "1_000"),
    "another script's digit": ("amountIn", "\u0661"),
    "negative zero": ("slippage", "-0"),
    "five thousand decimals": ("slippage", "0." + "1" * 5_000),
    "a long s taken for SOL": ("tokenIn", "\u017fol"),
    "more decimals than the token has": ("amountIn", "0.0000000001"),
    "spaces": ("amountIn", " 1.5"),
    "infinity": ("amountIn", "Infinity"),
    "a limit price with an exponent": ("limitPrice", "1e5"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_VALUES))
async def test_a_hostile_value_is_refused_naming_its_field_and_changes_nothing(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys, case: str
) -> None:
    field, value = HOSTILE_VALUES[case]
    keys_before = {key async for key in redis.scan_iter(match=keys.all())}
    body = {**GOOD, "orderType": "market", field: value}
    content = orjson.dumps(body, default=str) if isinstance(value, Decimal) else None
    if content is not None:  # a bare JSON number, not a string
        content = content.replace(b'"1E-17000"', b"1E-17000")
        response = await api.post(
            "/api/orders/execute", content=content, headers={"content-type": "application/json"}
        )
    else:
        response = await api.post("/api/orders/execute", json=body)
    assert response.status_code == 400, response.text
    assert field in [d["field"] for d in response.json()["details"]]
    assert {key async for key in redis.scan_iter(match=keys.all())} == keys_before


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/vnd.foo+json", orjson.dumps(GOOD)),
        ("application/json; charset=utf-16", orjson.dumps(GOOD).decode().encode("utf-16")),
        ("application/json", orjson.dumps(GOOD).decode().encode("utf-16")),
    ],
)
async def test_only_json_in_utf8_is_read(
    api: httpx.AsyncClient, redis: aioredis.Redis, keys: Keys, content_type: str, content: bytes
) -> None:
    response = await api.post(
        "/api/orders/execute", content=content, headers={"content-type": content_type}
    )
    assert response.status_code in (400, 415), response.text
    assert response.json()["success"] is False
    assert await _log_length(redis, keys) == 0


async def test_equal_amounts_written_differently_are_the_same_body_for_idempotency(
    api: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "same-amount"}
    first = await api.post("/api/orders/execute", json={**GOOD, "amountIn": "1"}, headers=headers)
    again = await api.post("/api/orders/execute", json={**GOOD, "amountIn": "1.0"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["orderId"] == first.json()["orderId"]
    assert again.json()["replayed"] is True


async def test_accepted_decimals_read_back_exactly_as_written(api: httpx.AsyncClient) -> None:
    placed = await api.post(
        "/api/orders/execute", json={**GOOD, "amountIn": "1.50", "slippage": "0.000000001"}
    )
    assert placed.status_code == 202
    order = (await api.get(f"/api/orders/{placed.json()['orderId']}")).json()["order"]
    assert (order["amountIn"], order["slippage"]) == ("1.50", "0.000000001")
