"""The event envelope and one frozen payload model per event type.

Events are facts: past-tense names, immutable, identified by `event_id` (every reader's idempotency
key) and ordered per order by `sequence` (1, 2, 3 …). The log position is attached on read.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

OrderType = Literal["market", "limit", "sniper"]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderPlaced(Payload):
    order_type: OrderType
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage: Decimal
    limit_price: Decimal | None = None
    expires_at: AwareDatetime | None = None
    # A sniper order waits for a pool of its pair holding at least this much tokenIn (None: any).
    min_liquidity: Decimal | None = None
    client_id: str | None = None
    # The SHA-256 (hex) of the client's Idempotency-Key; logs written before it was hashed may
    # hold the key itself. Nothing reads it back: the claim in Redis decides replays.
    idempotency_key: str | None = None


# Payload fields the log keeps for the engine (the owning client, the idempotency key) and that no
# answer or stream message shows anyone: they identify a client.
PRIVATE_PAYLOAD_FIELDS = frozenset({"client_id", "idempotency_key"})


def public_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload's fields (as dumped, snake_case) without the private ones."""
    return {name: value for name, value in payload.items() if name not in PRIVATE_PAYLOAD_FIELDS}


class OrderOpened(Payload):
    """A limit order rests until its price is reached (a sniper order, `limit_price` None, until
    its pool launches); again after a triggered attempt found the market back below the limit
    (`reopened_after` names the error that sent it back)."""

    limit_price: Decimal | None
    reopened_after: str | None = None


class OrderTriggered(Payload):
    """The market reached a resting limit order's price for its full size, or a sniper order's
    pool launched: it executes now. `market_out` is what the best route gave for the whole order
    when it was triggered."""

    limit_price: Decimal | None
    market_out: Decimal


class RoutingStarted(Payload):
    attempt: int = Field(ge=1)


class Quote(BaseModel):
    """One priced way to fill the order: a venue, a split across venues, or a two-hop route."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: str
    route: Literal["direct", "split", "two-hop"] = "direct"
    amount_out: Decimal
    fee: Decimal
    price_impact: Decimal
    legs: tuple[dict[str, str], ...] = ()


class RouteSelected(Payload):
    attempt: int = Field(ge=1)
    quotes: tuple[Quote, ...]
    chosen: Quote
    expected_out: Decimal
    min_amount_out: Decimal
    reason: str


class TransactionBuilt(Payload):
    attempt: int = Field(ge=1)
    steps: tuple[str, ...]


class TransactionSubmitted(Payload):
    attempt: int = Field(ge=1)
    tx_hash: str


class OrderConfirmed(Payload):
    attempt: int = Field(ge=1)
    tx_hash: str
    venue: str
    amount_out: Decimal
    executed_price: Decimal
    fee: Decimal
    price_impact: Decimal


class AttemptFailed(Payload):
    """A failed attempt that will be retried; the order goes back to routing."""

    attempt: int = Field(ge=1)
    error_code: str
    error_message: str
    retry_delay_ms: int = Field(ge=0)


class OrderFailed(Payload):
    attempts: int = Field(ge=0)
    error_code: str
    error_message: str


class OrderCancelled(Payload):
    reason: str = "cancelled by client"


class OrderExpired(Payload):
    reason: str = "expired before it could be executed"


class PoolLaunched(Payload):
    """A venue opened a pool (and, when `token_b` was not listed, listed it with `decimals_b`).
    A venue event, not an order's: its envelope's `order_id` is the pool's id (`pool_id`) and
    its sequence 1, so a venue launches a pair once."""

    venue: str
    token_a: str
    token_b: str
    reserve_a: Decimal
    reserve_b: Decimal
    decimals_b: int
    mint_b: str


class PoolMove(BaseModel):
    """One pool's spot price (tokenB per tokenA, whole tokens) before and after a market step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: str
    pair: str
    price_before: Decimal
    price_after: Decimal


class MarketMoved(Payload):
    """The market's steps up to `epoch` (reference prices' walk, arbitrage, drift) moved these
    pools. A venue event: its envelope's `order_id` is `market_step_id(epoch)`, sequence 1."""

    epoch: int
    steps: int
    pools: tuple[PoolMove, ...]


def market_step_id(epoch: int) -> uuid.UUID:
    """The id the market's step `epoch` has in the log: one MarketMoved per step."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"oee:market-step:{epoch}")


def pool_id(venue: str, token_x: str, token_y: str) -> uuid.UUID:
    """The id a venue's pool of these two tokens (in either order) has in the log."""
    first, second = sorted((token_x, token_y))
    return uuid.uuid5(uuid.NAMESPACE_URL, f"oee:pool:{venue}:{first}/{second}")


# Event types that are not an order's: no read model, no order stream carries them to a client.
VENUE_EVENT_TYPES = frozenset({"PoolLaunched", "MarketMoved"})


PAYLOAD_TYPES: dict[str, type[Payload]] = {
    cls.__name__: cls
    for cls in (
        OrderPlaced,
        OrderOpened,
        OrderTriggered,
        RoutingStarted,
        RouteSelected,
        TransactionBuilt,
        TransactionSubmitted,
        OrderConfirmed,
        AttemptFailed,
        OrderFailed,
        OrderCancelled,
        OrderExpired,
        PoolLaunched,
        MarketMoved,
    )
}

P = TypeVar("P", bound=Payload)


class Event(BaseModel, Generic[P]):
    """The envelope every event travels in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    type: str
    order_id: uuid.UUID
    sequence: int = Field(ge=1)
    occurred_at: AwareDatetime
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    schema_version: int = SCHEMA_VERSION
    payload: P


class UnknownEventTypeError(ValueError):
    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        super().__init__(f"unknown event type {event_type!r}")


def new_event(
    payload: P,
    *,
    order_id: uuid.UUID,
    sequence: int,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Event[P]:
    """A fresh event for `order_id` at `sequence`, with a new event id and the current time."""
    name = type(payload).__name__
    model: type[Event[P]] = EVENT_MODELS[name]
    return model(
        event_id=uuid.uuid4(),
        type=name,
        order_id=order_id,
        sequence=sequence,
        occurred_at=occurred_at or datetime.now(UTC),
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=payload,
    )


# The envelope model of each event type, built once: parametrising a generic model is not free.
EVENT_MODELS: dict[str, type[Event[Any]]] = {
    name: Event[payload]  # type: ignore[valid-type]
    for name, payload in PAYLOAD_TYPES.items()
}


def event_from_dict(data: dict[str, Any]) -> Event[Payload]:
    """Validate a decoded envelope, choosing the payload model by its `type`."""
    event_type = data.get("type")
    payload_type = PAYLOAD_TYPES.get(event_type) if isinstance(event_type, str) else None
    if payload_type is None:
        raise UnknownEventTypeError(str(event_type))
    return EVENT_MODELS[event_type].model_validate(data)  # type: ignore[index]
