"""Tokens listed by pool launches, shared by every process through Redis: a launch writes its new
token there (as well as into the log), and each process adds what it finds to its registry
(`schema.tokens`), at most every `REFRESH_INTERVAL_S` when asked for a token it does not know."""

from __future__ import annotations

import time

import orjson
import redis.asyncio as aioredis

from eventlog.keys import Keys
from schema.tokens import TOKENS, Token, list_token

REFRESH_INTERVAL_S = 0.25


async def save_listing(redis: aioredis.Redis, keys: Keys, token: Token) -> None:
    """Record a listed token (idempotent: the first listing of a symbol stays)."""
    await redis.hsetnx(keys.listed_tokens, token.symbol, orjson.dumps([token.mint, token.decimals]))
    list_token(token)


class TokenListings:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._loaded_at = float("-inf")

    async def refresh(self, *, force: bool = False) -> int:
        """Add the listed tokens this process does not know yet; returns how many. Without
        `force`, at most one read per REFRESH_INTERVAL_S."""
        now = time.monotonic()
        if not force and now - self._loaded_at < REFRESH_INTERVAL_S:
            return 0
        self._loaded_at = now
        found: dict[bytes, bytes] = await self._redis.hgetall(self._keys.listed_tokens)  # type: ignore[assignment]
        added = 0
        for raw_symbol, raw in found.items():
            symbol = raw_symbol.decode()
            if symbol in TOKENS:
                continue
            mint, decimals = orjson.loads(raw)
            added += list_token(Token(symbol, mint, int(decimals)))
        return added
