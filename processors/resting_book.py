"""The book of resting orders, in Redis and in step with the log: limit orders indexed by direction
and limit price (what a price reaches is one range read, never a scan), sniper orders by direction
and placement time (a launch fills them in that order), both by expiry time.

An entry is named `<order id>:<sequence>`, the sequence of the order's `OrderOpened`: a trigger or
an expiry appends after exactly that sequence, so a stale entry (the order moved on) can only fail
its append, and is then removed. Writes are idempotent: whoever replays the log's step adds or
removes the same entries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import orjson
import redis.asyncio as aioredis

from eventlog.keys import Keys

# Two reads in one round trip: the members of a sorted set within a score range (at most a page),
# then their records.
_RANGE_LUA = """
local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
if #members == 0 then return {} end
local records = redis.call('HMGET', KEYS[2], unpack(members))
local found = {}
for i, member in ipairs(members) do
  found[#found + 1] = member
  found[#found + 1] = records[i] or ''
end
return found
"""


# Take members off the book. KEYS: the records hash, the expiry index, then per member its book
# and its client's set; ARGV: the members.
_REMOVE_LUA = """
redis.call('HDEL', KEYS[1], unpack(ARGV))
redis.call('ZREM', KEYS[2], unpack(ARGV))
for i, member in ipairs(ARGV) do
  redis.call('ZREM', KEYS[1 + 2 * i], member)
  redis.call('SREM', KEYS[2 + 2 * i], member)
end
return #ARGV
"""


@dataclass(frozen=True, slots=True)
class RestingOrder:
    order_id: uuid.UUID
    sequence: int  # of its OrderOpened
    token_in: str
    token_out: str
    amount_in: Decimal
    limit_price: Decimal | None  # None: a sniper order
    expires_at: float  # epoch seconds
    opened_event_id: uuid.UUID
    correlation_id: uuid.UUID | None
    client_id: str
    placed_at: float = 0.0  # epoch seconds: a sniper order's place in its queue
    min_liquidity: Decimal | None = None  # a sniper order's least tokenIn in the pool
    slippage: Decimal = Decimal(0)  # what a sniper order's route may lose

    @property
    def member(self) -> str:
        return f"{self.order_id}:{self.sequence}"

    @property
    def kind(self) -> str:
        return "limit" if self.limit_price is not None else "sniper"

    @property
    def direction(self) -> str:
        return f"{self.kind}:{self.token_in}:{self.token_out}"

    def encode(self) -> bytes:
        return orjson.dumps(
            [
                self.token_in,
                self.token_out,
                str(self.amount_in),
                _text(self.limit_price),
                self.expires_at,
                str(self.opened_event_id),
                _text(self.correlation_id),
                self.client_id,
                self.placed_at,
                _text(self.min_liquidity),
                str(self.slippage),
            ]
        )

    @classmethod
    def decode(cls, member: str, record: bytes) -> RestingOrder:
        order_id, sequence = member.split(":")
        (
            token_in,
            token_out,
            amount,
            price,
            expires,
            opened,
            correlation,
            client,
            placed,
            least,
            slippage,
        ) = orjson.loads(record)
        return cls(
            order_id=uuid.UUID(order_id),
            sequence=int(sequence),
            token_in=token_in,
            token_out=token_out,
            amount_in=Decimal(amount),
            limit_price=None if price is None else Decimal(price),
            expires_at=float(expires),
            opened_event_id=uuid.UUID(opened),
            correlation_id=None if correlation is None else uuid.UUID(correlation),
            client_id=client,
            placed_at=float(placed),
            min_liquidity=None if least is None else Decimal(least),
            slippage=Decimal(slippage),
        )


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


class RestingBook:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._range = redis.register_script(_RANGE_LUA)
        self._remove = redis.register_script(_REMOVE_LUA)

    async def add(self, order: RestingOrder) -> None:
        keys = self._keys
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.resting_orders, order.member, order.encode())
            if order.limit_price is not None:
                book = keys.resting_book(order.token_in, order.token_out)
                pipe.zadd(book, {order.member: float(order.limit_price)})
            else:
                book = keys.sniper_book(order.token_in, order.token_out)
                pipe.zadd(book, {order.member: order.placed_at})
            pipe.zadd(keys.resting_expiries, {order.member: order.expires_at})
            pipe.sadd(keys.resting_pairs, order.direction)
            pipe.sadd(keys.resting_client(order.client_id), order.member)
            await pipe.execute()

    async def remove(self, orders: Sequence[RestingOrder]) -> None:
        """Take the orders off the book (one script call; orders not on it are skipped)."""
        if not orders:
            return
        keys = self._keys
        names = [keys.resting_orders, keys.resting_expiries]
        for order in orders:
            book = keys.resting_book if order.kind == "limit" else keys.sniper_book
            names += [book(order.token_in, order.token_out), keys.resting_client(order.client_id)]
        await self._remove(keys=names, args=[order.member for order in orders])

    async def find(self, order_id: uuid.UUID, sequence: int) -> RestingOrder | None:
        member = f"{order_id}:{sequence}"
        record: bytes | None = await self._redis.hget(self._keys.resting_orders, member)  # type: ignore[assignment]
        return None if record is None else RestingOrder.decode(member, record)

    async def reached(
        self, token_in: str, token_out: str, price: float, page: int
    ) -> list[RestingOrder]:
        """Up to `page` orders of the direction whose limit price is at most `price`, lowest
        first."""
        return await self._read_range(
            self._keys.resting_book(token_in, token_out), "-inf", repr(price), page
        )

    async def snipers(self, token_in: str, token_out: str, page: int) -> list[RestingOrder]:
        """Up to `page` sniper orders of the direction, earliest placed first."""
        key = self._keys.sniper_book(token_in, token_out)
        return await self._read_range(key, "-inf", "+inf", page)

    async def due(self, now: float, page: int) -> list[RestingOrder]:
        """Up to `page` orders whose expiry time is not after `now`, earliest first."""
        return await self._read_range(self._keys.resting_expiries, "-inf", repr(now), page)

    async def directions(self) -> list[tuple[str, str, str]]:
        """(kind, token in, token out) of every direction that has (or had) resting orders."""
        found: set[bytes] = await self._redis.smembers(self._keys.resting_pairs)  # type: ignore[assignment]
        parts = (raw.decode().split(":") for raw in found)
        return sorted((kind, token_in, token_out) for kind, token_in, token_out in parts)

    async def size(self) -> int:
        return int(await self._redis.hlen(self._keys.resting_orders))

    async def resting_of(self, client_id: str) -> int:
        """How many orders `client_id` has resting."""
        return int(await self._redis.scard(self._keys.resting_client(client_id)))

    async def _read_range(self, key: str, low: str, high: str, page: int) -> list[RestingOrder]:
        raw = await self._range(keys=[key, self._keys.resting_orders], args=[low, high, page])
        found: list[RestingOrder] = []
        stale: list[bytes] = []
        for member, record in zip(raw[::2], raw[1::2], strict=True):
            if record:
                found.append(RestingOrder.decode(member.decode(), record))
            else:
                stale.append(member)  # its record went with a removal that raced this read
        if stale:
            await self._redis.zrem(key, *stale)
        return found
