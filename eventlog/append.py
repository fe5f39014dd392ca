"""Appending events to the log with an expected per-order sequence, atomically.

One Lua script checks that the order's sequence is the expected one, XADDs every event of the call
and records their positions; two writers can never both extend the same order. An optional claim
key makes the append conditional on a key that does not exist yet (idempotent commands).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from eventlog.codec import encode
from eventlog.keys import Keys
from schema.events import Event

# KEYS: stream, order positions list[, claim key]
# ARGV: expected sequence, order id, event count, then type and data per event
#       [, claim value, claim ttl seconds]
_APPEND_LUA = """
local current = redis.call('LLEN', KEYS[2])
if KEYS[3] then
  local claimed = redis.call('GET', KEYS[3])
  if claimed then return {'CLAIMED', claimed} end
end
if current ~= tonumber(ARGV[1]) then
  return redis.error_reply('CONCURRENCY ' .. current)
end
local n = tonumber(ARGV[3])
local ids = {}
for i = 0, n - 1 do
  local id = redis.call('XADD', KEYS[1], '*', 'type', ARGV[4 + 2 * i],
                        'order_id', ARGV[2], 'data', ARGV[5 + 2 * i])
  ids[#ids + 1] = id
end
redis.call('RPUSH', KEYS[2], unpack(ids))
if KEYS[3] then
  redis.call('SET', KEYS[3], ARGV[4 + 2 * n], 'EX', ARGV[5 + 2 * n])
end
return ids
"""


class ConcurrencyError(RuntimeError):
    """Another writer extended the order first: the expected sequence is stale."""

    def __init__(self, order_id: uuid.UUID, expected: int, actual: int) -> None:
        self.order_id = order_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"order {order_id}: expected to append after sequence {expected}, "
            f"but the order is at sequence {actual}"
        )


class AppendError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Claim:
    """Append only if `key` is unset; then set it to `value` for `ttl_seconds`."""

    key: str
    value: bytes
    ttl_seconds: int


@dataclass(frozen=True, slots=True)
class ClaimTaken:
    """The claim key was already set: nothing was appended. `value` is what it holds."""

    value: bytes


@dataclass(frozen=True, slots=True)
class AppendRequest:
    events: Sequence[Event[Any]]
    expected_sequence: int
    claim: Claim | None = None


class EventAppender:
    """Appends events for one log (one key prefix)."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._script = redis.register_script(_APPEND_LUA)

    async def append(
        self,
        events: Sequence[Event[Any]],
        *,
        expected_sequence: int,
        claim: Claim | None = None,
    ) -> list[str] | ClaimTaken:
        """Append one order's events in one round trip; returns their positions."""
        keys, args = self._script_call(AppendRequest(events, expected_sequence, claim))
        try:
            result = await self._script(keys=keys, args=args)
        except ResponseError as exc:
            raise self._translate(events[0].order_id, expected_sequence, exc) from None
        return _result(result)

    async def append_many(
        self, requests: Sequence[AppendRequest]
    ) -> list[list[str] | ClaimTaken | ConcurrencyError]:
        """Append for many orders in one pipelined round trip; one result per request."""
        pipe = self._redis.pipeline(transaction=False)
        for request in requests:
            keys, args = self._script_call(request)
            await self._script(keys=keys, args=args, client=pipe)
        raw = await pipe.execute(raise_on_error=False)
        results: list[list[str] | ClaimTaken | ConcurrencyError] = []
        for request, item in zip(requests, raw, strict=True):
            if isinstance(item, ResponseError):
                order_id = request.events[0].order_id
                results.append(self._translate(order_id, request.expected_sequence, item))
            else:
                results.append(_result(item))
        return results

    def _script_call(self, request: AppendRequest) -> tuple[list[str], list[Any]]:
        events = request.events
        if not events:
            raise AppendError("nothing to append")
        order_id = events[0].order_id
        for offset, event in enumerate(events, start=1):
            if event.order_id != order_id:
                raise AppendError(f"one append call takes one order's events, got {event.order_id}")
            if event.sequence != request.expected_sequence + offset:
                raise AppendError(
                    f"order {order_id}: event {event.event_id} has sequence {event.sequence}, "
                    f"expected {request.expected_sequence + offset}"
                )
        keys = [self._keys.events, self._keys.order_positions(order_id)]
        args: list[Any] = [request.expected_sequence, str(order_id), len(events)]
        for event in events:
            fields = encode(event)
            args += [fields[b"type"], fields[b"data"]]
        if request.claim is not None:
            keys.append(request.claim.key)
            args += [request.claim.value, request.claim.ttl_seconds]
        return keys, args

    def _translate(
        self, order_id: uuid.UUID, expected: int, exc: ResponseError
    ) -> ConcurrencyError:
        message = str(exc)
        if message.startswith("CONCURRENCY "):
            return ConcurrencyError(order_id, expected, int(message.split()[1]))
        raise exc


def _result(raw: Any) -> list[str] | ClaimTaken:
    if len(raw) == 2 and raw[0] == b"CLAIMED":
        return ClaimTaken(raw[1])
    return [position.decode() for position in raw]
