"""API keys: made, listed and revoked by operators (`oee keys`, kept in Redis beside the log), or
given in the settings (`API_KEYS`, `ADMIN_API_KEYS`). A key is shown once, when it is made; only
its SHA-256 is kept (a key is 256 random bits, so a fast hash is enough) and keys are looked up by
that hash, so a guess is never compared character by character.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from eventlog.key_pairs import CLIENT_NAME
from eventlog.keys import Keys

KEY_PREFIX = "oee_"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a key belongs to: a client, and whether it is an operator's (sees everything)."""

    client: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class StoredKey:
    id: str
    client: str
    admin: bool
    created: float  # Unix time
    revoked: float | None

    @classmethod
    def parse(cls, raw: bytes) -> StoredKey:
        record: dict[str, Any] = orjson.loads(raw)
        return cls(**record)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "client": self.client,
                "admin": self.admin,
                "created": self.created,
                "revoked": self.revoked,
            }
        )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(
    redis: aioredis.Redis, keys: Keys, client: str, *, admin: bool
) -> tuple[str, str]:
    """Make a key for `client`; returns its id and the key itself (shown once, never stored)."""
    if not CLIENT_NAME.match(client):
        raise ValueError("a client name is 1-64 of A-Z a-z 0-9 _ . -")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    stored = StoredKey(secrets.token_hex(6), client, admin, round(time.time(), 3), None)
    await redis.hset(keys.api_keys, key_hash(key), stored.encode())
    return stored.id, key


async def stored_keys(redis: aioredis.Redis, keys: Keys) -> dict[str, StoredKey]:
    """Every key made with `oee keys`, revoked ones too, by the hash of the key."""
    found: Any = await redis.hgetall(keys.api_keys)
    return {_text(digest): StoredKey.parse(raw) for digest, raw in found.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def revoke_key(redis: aioredis.Redis, keys: Keys, key_id: str) -> bool:
    """Revoke the key `key_id` (again is fine); False when there is no such key."""
    for digest, stored in (await stored_keys(redis, keys)).items():
        if stored.id == key_id:
            if stored.revoked is None:
                revoked = StoredKey(
                    stored.id, stored.client, stored.admin, stored.created, round(time.time(), 3)
                )
                await redis.hset(keys.api_keys, digest, revoked.encode())
            return True
    return False
