"""Appending events to the log with an expected per-order sequence, atomically: the one way in.

One Lua script checks that the order's sequence is the expected one, XADDs every event of the call
and records their positions; two writers can never both extend the same order. An optional claim
key makes the append conditional on a key that does not exist yet (idempotent commands). Appends
asked for in the same event-loop turn (orders in flight in a processor, requests in an API process)
go to Redis in one script call (group commit), while each keeps its own check, claim and result.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import redis.asyncio as aioredis

from eventlog.batching import TurnBatcher
from eventlog.codec import encode
from eventlog.keys import Keys
from eventlog.store_errors import REDIS_UNAVAILABLE
from schema.events import Event

# One call appends for one or many orders of one partition; each order's append is checked and
# applied on its own.
# KEYS: the partition's stream, then per request: the order's positions list, its claim key (or
#       the stream again when the request has no claim)
# ARGV: the partition and the number of partitions, then per request: expected sequence, order id,
#       event count, has claim (0/1), type and data per event, [claim value, claim ttl seconds]
# Returns per request: {positions...} | {'CLAIMED', value} | {'CONCURRENCY', current sequence}
#
# With one partition Redis numbers the entries. With P of them, partition p numbers its own:
# `<ms>-<seq>` with seq ≡ p (mod P), ms the later of Redis's clock and the stream's last entry, so
# a position is unique across the log and names its partition (eventlog.partitions).
_APPEND_LUA = """
local part, parts = tonumber(ARGV[1]), tonumber(ARGV[2])
local ms, seq = 0, part - parts
if parts > 1 and redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local dash = string.find(info[i + 1], '-', 1, true)
      ms = tonumber(string.sub(info[i + 1], 1, dash - 1))
      seq = tonumber(string.sub(info[i + 1], dash + 1))
    end
  end
end
local function next_position()
  if parts == 1 then return '*' end
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if now_ms > ms then
    ms, seq = now_ms, part
  else
    seq = seq + parts
  end
  return string.format('%d-%d', ms, seq)
end
local results = {}
local a = 3
local k = 2
while a <= #ARGV do
  local expected, order_id = tonumber(ARGV[a]), ARGV[a + 1]
  local n, has_claim = tonumber(ARGV[a + 2]), ARGV[a + 3] == '1'
  local positions_key, claim_key = KEYS[k], KEYS[k + 1]
  local first = a + 4
  local after = first + 2 * n
  if has_claim then a = after + 2 else a = after end
  k = k + 2
  local claimed = has_claim and redis.call('GET', claim_key)
  local current = redis.call('LLEN', positions_key)
  if claimed then
    results[#results + 1] = {'CLAIMED', claimed}
  elseif current ~= expected then
    results[#results + 1] = {'CONCURRENCY', tostring(current)}
  else
    local ids = {}
    for i = 0, n - 1 do
      ids[#ids + 1] = redis.call('XADD', KEYS[1], next_position(), 'type', ARGV[first + 2 * i],
                                 'order_id', order_id, 'data', ARGV[first + 2 * i + 1])
    end
    redis.call('RPUSH', positions_key, unpack(ids))
    if has_claim then
      redis.call('SET', claim_key, ARGV[after], 'EX', ARGV[after + 1])
    end
    results[#results + 1] = ids
  end
end
return results
"""

# Requests per script call in append_many: large enough to amortise the call, small enough not to
# hold Redis for long (a few milliseconds).
BATCH_REQUESTS = 200


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


AppendResult = list[str] | ClaimTaken | ConcurrencyError


class EventAppender:
    """Appends events for one log (one key prefix). One per process: every writer shares it, so
    the appends of one turn share a round trip."""

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._script = redis.register_script(_APPEND_LUA)
        self._batcher: TurnBatcher[AppendRequest, AppendResult | Exception] = TurnBatcher(
            self._append_turn
        )

    @overload
    async def append(
        self, events: Sequence[Event[Any]], *, expected_sequence: int
    ) -> list[str]: ...

    @overload
    async def append(
        self, events: Sequence[Event[Any]], *, expected_sequence: int, claim: Claim | None
    ) -> list[str] | ClaimTaken: ...

    async def append(
        self,
        events: Sequence[Event[Any]],
        *,
        expected_sequence: int,
        claim: Claim | None = None,
    ) -> list[str] | ClaimTaken:
        """Append one order's events after `expected_sequence`; returns their positions, or
        ClaimTaken (nothing appended) when `claim`'s key is set already.

        Raises ConcurrencyError when the order is not at `expected_sequence`.
        """
        result = await self._batcher.submit(AppendRequest(events, expected_sequence, claim))
        if isinstance(result, Exception):
            raise result
        return result

    async def append_many(self, requests: Sequence[AppendRequest]) -> list[AppendResult]:
        """Append for many orders at once (bulk writers: seeds, imports); one result per request,
        in order. Each request is checked and applied on its own."""
        if not requests:
            return []
        order_ids = [_check(request) for request in requests]
        by_partition: dict[int, list[int]] = {}
        for index, order_id in enumerate(order_ids):
            by_partition.setdefault(self._keys.partition_of(order_id), []).append(index)
        results: list[AppendResult | None] = [None] * len(requests)
        # One script call per partition and BATCH_REQUESTS, in turn: a later request may extend
        # an order an earlier one placed. (A pipeline would save round trips on one Redis, but
        # a cluster client refuses scripts in pipelines; these callers are bulk writers.)
        for partition, indexes in by_partition.items():
            for start in range(0, len(indexes), BATCH_REQUESTS):
                chunk = indexes[start : start + BATCH_REQUESTS]
                keys, args = self._script_call(
                    partition, [(requests[i], order_ids[i]) for i in chunk]
                )
                reply: Any = await self._script(keys=keys, args=args)
                for index, raw in zip(chunk, reply, strict=True):
                    results[index] = _result(requests[index], raw)
        answered = [result for result in results if result is not None]
        assert len(answered) == len(requests)
        return answered

    async def _append_turn(
        self, requests: Sequence[AppendRequest]
    ) -> Sequence[AppendResult | Exception]:
        try:
            return await self.append_many(requests)
        except REDIS_UNAVAILABLE:
            raise
        except Exception:
            if len(requests) == 1:
                raise
        # One request the log refuses must not fail the orders batched with it: one by one.
        results: list[AppendResult | Exception] = []
        for request in requests:
            try:
                results += await self.append_many([request])
            except REDIS_UNAVAILABLE:
                raise
            except Exception as exc:
                results.append(exc)
        return results

    def _script_call(
        self, partition: int, requests: Sequence[tuple[AppendRequest, uuid.UUID]]
    ) -> tuple[list[str], list[Any]]:
        stream = self._keys.stream(partition)
        keys = [stream]
        args: list[Any] = [partition, self._keys.partitions]
        for request, order_id in requests:
            keys.append(self._keys.order_positions(order_id))
            keys.append(request.claim.key if request.claim else stream)
            args += [request.expected_sequence, str(order_id), len(request.events)]
            args.append(1 if request.claim else 0)
            for event in request.events:
                fields = encode(event)
                args += [fields[b"type"], fields[b"data"]]
            if request.claim is not None:
                args += [request.claim.value, request.claim.ttl_seconds]
        return keys, args


def _check(request: AppendRequest) -> uuid.UUID:
    """The order the request appends to, after checking the events form its next sequences."""
    if not request.events:
        raise AppendError("nothing to append")
    order_id = request.events[0].order_id
    for offset, event in enumerate(request.events, start=1):
        if event.order_id != order_id:
            raise AppendError(f"one append request takes one order's events, got {event.order_id}")
        if event.sequence != request.expected_sequence + offset:
            raise AppendError(
                f"order {order_id}: event {event.event_id} has sequence {event.sequence}, "
                f"expected {request.expected_sequence + offset}"
            )
    return order_id


def _result(request: AppendRequest, raw: list[bytes]) -> AppendResult:
    if raw and raw[0] == b"CLAIMED":
        return ClaimTaken(raw[1])
    if raw and raw[0] == b"CONCURRENCY":
        order_id = request.events[0].order_id
        return ConcurrencyError(order_id, request.expected_sequence, int(raw[1]))
    return [position.decode() for position in raw]
