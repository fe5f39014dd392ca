"""The market's steps as events: what each step moved waits in the market-moves list (written
with the move itself, by the drift script) until a processor appends it to the log as a
MarketMoved event. Exactly once: a step's event has an id of its own at sequence 1, so a second
append of it (another processor, a retry after a crash) is refused, and an entry leaves the list
only once its event is in the log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis

from eventlog.append import AppendRequest, EventAppender
from eventlog.keys import Keys
from schema.events import MarketMoved, PoolMove, market_step_id, new_event
from schema.tokens import get_token

# Records logged per call: the list is short unless no processor logged for a while.
PAGE = 100


async def log_market_moves(redis: aioredis.Redis, keys: Keys, appender: EventAppender) -> int:
    """Append the waiting records as MarketMoved events; returns how many were waiting."""
    waiting: list[bytes] = await redis.lrange(keys.market_moves, 0, PAGE - 1)  # type: ignore[assignment]
    if not waiting:
        return 0
    requests = []
    for raw in waiting:
        record = orjson.loads(raw)
        payload = MarketMoved(
            epoch=int(record["epoch"]),
            steps=int(record["steps"]),
            pools=tuple(_move(*pool) for pool in record["pools"]),
        )
        event = new_event(payload, order_id=market_step_id(payload.epoch), sequence=1)
        requests.append(AppendRequest([event], expected_sequence=0))
    await appender.append_many(requests)  # one already in the log answers ConcurrencyError
    async with redis.pipeline(transaction=False) as pipe:
        for raw in waiting:
            pipe.lrem(keys.market_moves, 1, raw.decode())
        await pipe.execute()
    return len(waiting)


def _move(venue: str, pair: str, a0: str, b0: str, a1: str, b1: str) -> PoolMove:
    token_a, token_b = pair.split("/")
    shift = get_token(token_a).decimals - get_token(token_b).decimals

    def price(a: Any, b: Any) -> Decimal:
        return (Decimal(b) / Decimal(a)).scaleb(shift).quantize(Decimal("1e-12")).normalize()

    return PoolMove(venue=venue, pair=pair, price_before=price(a0, b0), price_after=price(a1, b1))
