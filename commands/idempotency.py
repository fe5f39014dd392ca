"""Idempotency keys: the same key and the same body place one order; another body is a conflict.

The key is claimed atomically with the append of `OrderPlaced` (see eventlog.append.Claim), so two
concurrent requests with one key can never both place an order.

Nothing stored holds the key a client sent: the log's `OrderPlaced` and the claim's Redis key both
keep its digest (`key_digest`). A client's key may be a secret of its own (a request id, an account
reference), and the log outlives the claim by far.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import orjson

from commands.place_order import PlaceOrder

KEY_TTL_SECONDS = 24 * 3600
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # 1 to 255 visible ASCII characters
_VALID_KEY = re.compile(KEY_PATTERN)


class InvalidIdempotencyKeyError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    order_id: uuid.UUID
    fingerprint: str

    def encode(self) -> bytes:
        return orjson.dumps({"orderId": str(self.order_id), "fingerprint": self.fingerprint})

    @classmethod
    def decode(cls, raw: bytes) -> IdempotencyRecord:
        data = orjson.loads(raw)
        return cls(uuid.UUID(data["orderId"]), data["fingerprint"])


def check_key(key: str) -> str:
    if not _VALID_KEY.match(key):
        raise InvalidIdempotencyKeyError(
            "Idempotency-Key must be 1 to 255 visible ASCII characters"
        )
    return key


def key_digest(key: str) -> str:
    """What the engine keeps of a client's Idempotency-Key: its SHA-256, in hex."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def fingerprint(command: PlaceOrder) -> str:
    """A digest of what the command asks for; equal bodies in any field order share it, and so do
    equal amounts written differently ("1" and "1.0")."""
    fields = {
        name: format(value.normalize(), "f") if isinstance(value, Decimal) else value
        for name, value in command.model_dump().items()
    }
    canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()
