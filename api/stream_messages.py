"""The WebSocket messages: what the streams send, each encoded once and shared by every socket.

An event becomes a `status_update` (or a `retry` for a failed attempt that will be retried) carrying
the order's status after it, its position and sequence, so a client can resume from any message.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from api.order_views import camel, format_time
from eventlog.codec import PositionKey, Recorded, position_key
from schema.events import VENUE_EVENT_TYPES, Event, Payload, public_fields
from schema.statuses import STATUS_AFTER_EVENT, TERMINAL_STATUSES


class Closing(NamedTuple):
    """Why the server closes a socket: a WebSocket close code and a short reason."""

    code: int
    reason: str


ORDER_FINISHED = Closing(1000, "order finished")
GOING_AWAY = Closing(1001, "server shutting down")
RELAY_FAILED = Closing(1011, "the event log is unavailable; reconnect")
INTERNAL_ERROR = Closing(1011, "internal error; reconnect")
INVALID_REQUEST = 4400
ORDER_NOT_FOUND = 4404
POSITION_EXPIRED = 4410
SLOW_CLIENT = Closing(4008, "too slow: message buffer overflowed")


class Outgoing:
    """One encoded message, with the ASGI send event built once and shared by every socket.

    `position` is set for events: a socket uses it to skip what it has already sent.
    """

    __slots__ = ("asgi", "order_id", "position", "terminal")

    def __init__(
        self,
        text: str,
        position: PositionKey | None = None,
        order_id: uuid.UUID | None = None,
        terminal: bool = False,
    ) -> None:
        self.asgi: dict[str, Any] = {"type": "websocket.send", "text": text}
        self.position = position
        self.order_id = order_id
        self.terminal = terminal

    @property
    def text(self) -> str:
        text: str = self.asgi["text"]
        return text


class InvalidPositionError(ValueError):
    def __init__(self, raw: str) -> None:
        self.raw = raw
        shown = raw if len(raw) <= 30 else raw[:30] + "…"
        super().__init__(f"after={shown!r} is not a log position (expected <ms>-<seq>, e.g. 0-0)")


def parse_position(raw: str) -> tuple[str, PositionKey]:
    """A stream entry id from a query string, normalised: "0" and "5" become "0-0" and "5-0"."""
    ms, _, seq = raw.partition("-")
    if not raw.isascii() or not (ms.isdigit() and (seq.isdigit() or seq == "")) or len(raw) > 41:
        raise InvalidPositionError(raw)
    key = (int(ms), int(seq or "0"))
    # The last possible id has nothing after it: Redis refuses a range that starts past it.
    if key[0] >= 2**64 or key[1] >= 2**64 or key == (2**64 - 1, 2**64 - 1):
        raise InvalidPositionError(raw)
    return f"{key[0]}-{key[1]}", key


def camel_case(value: Any) -> Any:
    """Dict keys in camelCase, recursively; values unchanged."""
    if isinstance(value, dict):
        return {camel(str(k)): camel_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_case(item) for item in value]
    return value


def _encode(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


# The original's `data.message`: a sentence per event type, filled from the event's payload `p`.
SENTENCES = {
    "OrderPlaced": "Order received and queued: {p.amount_in} {p.token_in} for {p.token_out}",
    "OrderOpened": "Order open, waiting for its price ({p.limit_price})",
    "OrderTriggered": "Limit price reached: the market gives {p.market_out}; executing",
    "RoutingStarted": "Finding the best route (attempt {p.attempt})",
    "RouteSelected": "Building transaction on {p.chosen.venue}, expecting {p.expected_out}",
    "TransactionBuilt": "Transaction built, submitting it (attempt {p.attempt})",
    "TransactionSubmitted": "Transaction submitted: {p.tx_hash}",
    "OrderConfirmed": "Order confirmed: {p.amount_out} received on {p.venue} at {p.executed_price}",
    "AttemptFailed": "Retrying after {p.error_message} (attempt {p.attempt} failed)",
    "OrderFailed": "Order failed: {p.error_message}",
    "OrderCancelled": "Order cancelled: {p.reason}",
    "OrderExpired": "Order expired: {p.reason}",
    "PoolLaunched": "Pool launched on {p.venue}: {p.token_a}/{p.token_b}",
    "MarketMoved": "The market moved (arbitrage and drift): {n} pool(s)",
}


def describe(event: Event[Payload]) -> str:
    """A sentence for people: what this event did to the order."""
    template = SENTENCES.get(event.type)
    count = len(getattr(event.payload, "pools", ()))
    return template.format(p=event.payload, n=count) if template else event.type


_MESSAGE_TYPES = {"AttemptFailed": "retry", **dict.fromkeys(VENUE_EVENT_TYPES, "venue_update")}


def event_message(recorded: Recorded) -> Outgoing:
    """An event as a message: `retry` for a failed attempt to be retried, `venue_update` for a
    venue's event (a pool launch: `orderId` is the pool's id, `status` null), else
    `status_update`. `data` is the payload in camelCase plus `message`, a sentence about it."""
    event = recorded.event
    status = STATUS_AFTER_EVENT.get(event.type)
    data = camel_case(public_fields(event.payload.model_dump(mode="json")))
    data["message"] = describe(event)
    message: dict[str, Any] = {
        "type": _MESSAGE_TYPES.get(event.type, "status_update"),
        "orderId": str(event.order_id),
        "status": status.value if status is not None else None,
        "event": event.type,
        "eventId": str(event.event_id),
        "sequence": event.sequence,
        "position": recorded.position,
        "timestamp": format_time(event.occurred_at),
        "data": data,
    }
    if event.type == "AttemptFailed":
        for field in ("attempt", "errorCode", "errorMessage", "retryDelayMs"):
            message[field] = data[field]
    return Outgoing(
        _encode(message),
        position_key(recorded.position),
        event.order_id,
        status in TERMINAL_STATUSES,
    )


def _now() -> str:
    return format_time(datetime.now(UTC))


def connected_message(order_id: uuid.UUID | None, position: str, after: str | None) -> str:
    """The first message: what the socket follows and where in the log it starts."""
    return _encode(
        {
            "type": "connected",
            "orderId": str(order_id) if order_id else None,
            "stream": "order" if order_id else "all",
            "after": after,
            "position": position,
            "message": "Connected. Past events follow, then live ones."
            if order_id
            else "Connected. Events follow as they happen.",
            "timestamp": _now(),
        }
    )


def error_message(code: str, error: str) -> str:
    return _encode({"type": "error", "code": code, "error": error, "timestamp": _now()})


def pong_message() -> Outgoing:
    return Outgoing(_encode({"type": "pong", "timestamp": _now()}))


def heartbeat_message() -> Outgoing:
    return Outgoing(_encode({"type": "heartbeat", "timestamp": _now()}))
