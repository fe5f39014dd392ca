"""The write side's entry points: place an order, cancel an order.

An order is accepted only once its `OrderPlaced` event is in the log; a cancellation is an event
appended at the order's current sequence, so it races safely with the execution processor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from commands.idempotency import (
    KEY_TTL_SECONDS,
    IdempotencyRecord,
    check_key,
    fingerprint,
    key_digest,
)
from commands.intake_limit import IntakeLimit
from commands.place_order import CommandRejectedError, decide_place_order, parse_place_order
from commands.pool_launch import decide_launch_pool, parse_launch_pool
from eventlog.append import Claim, ClaimTaken, ConcurrencyError, EventAppender
from eventlog.archive_source import ArchiveSource
from eventlog.keys import Keys
from eventlog.partitions import order_id_in
from eventlog.reading import read_order
from eventlog.settings import Settings
from eventlog.store_errors import REDIS_UNAVAILABLE
from eventlog.token_listings import TokenListings, save_listing
from schema.events import OrderCancelled, OrderPlaced, new_event
from schema.order_state import fold
from schema.statuses import CANCELLABLE_STATUSES, OrderStatus
from schema.tokens import TOKENS, Token


class IdempotencyConflictError(RuntimeError):
    def __init__(self, key: str, order_id: uuid.UUID) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for order {order_id} with another body"
        )
        self.key = key
        self.order_id = order_id


class PlacementOutcomeUnknownError(RuntimeError):
    """The log became unreachable while the order's event was on its way: it may or may not have
    been appended. The order's id is known, so the log can be asked once it is back."""

    def __init__(self, order_id: uuid.UUID) -> None:
        self.order_id = order_id
        super().__init__(f"order {order_id}: the log was unreachable; accepted or not is unknown")


class TooManyRestingOrdersError(RuntimeError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this client has {limit} limit orders resting, the most it may; cancel one or wait"
            " for one to fill or expire"
        )
        self.limit = limit


class PoolExistsError(RuntimeError):
    def __init__(self, venue: str, token_a: str, token_b: str) -> None:
        super().__init__(f"{venue} has a {token_a}/{token_b} pool already")


@dataclass(frozen=True, slots=True)
class Launched:
    pool_id: uuid.UUID
    venue: str
    pair: str
    position: str  # of its PoolLaunched
    listed: bool  # tokenB was new: the launch listed it


class OrderNotFoundError(LookupError):
    def __init__(self, order_id: uuid.UUID | str) -> None:
        super().__init__(f"order {order_id} not found")
        self.order_id = order_id


class TooLateToCancelError(RuntimeError):
    def __init__(self, order_id: uuid.UUID, status: str) -> None:
        super().__init__(f"order {order_id} is {status}: too late to cancel")
        self.order_id = order_id
        self.status = status


@dataclass(frozen=True, slots=True)
class Placed:
    order_id: uuid.UUID
    position: str | None  # None when an earlier request with the same key placed it
    replayed: bool


@dataclass(frozen=True, slots=True)
class Cancelled:
    position: str  # of the order's OrderCancelled
    replayed: bool  # it was cancelled already; nothing was appended


class OrderIntake:
    def __init__(
        self,
        redis: aioredis.Redis,
        appender: EventAppender,
        keys: Keys,
        settings: Settings,
        archive: ArchiveSource | None = None,
    ) -> None:
        self._redis = redis
        self._archive = archive  # where an order's history is once trimmed from Redis
        self._appender = appender  # placements arriving together share one script call
        self._keys = keys
        self._settings = settings
        self.listings = TokenListings(redis, keys)
        self.limit = IntakeLimit(settings, redis, keys, settings.intake_rate_limit_per_minute)

    async def place(self, body: Any, *, client_id: str, idempotency_key: str | None) -> Placed:
        try:
            command = parse_place_order(body)
        except CommandRejectedError:
            if not await self.listings.refresh():  # a token another process listed since?
                raise
            command = parse_place_order(body)
        digest = None if idempotency_key is None else key_digest(check_key(idempotency_key))
        await self.limit.check(client_id)
        resting_limit = self._settings.max_resting_per_client
        if command.order_type != "market" and resting_limit:
            resting = int(await self._redis.scard(self._keys.resting_client(client_id)))
            if resting >= resting_limit:
                raise TooManyRestingOrdersError(resting_limit)
        event = decide_place_order(
            command,
            default_slippage=self._settings.slippage_tolerance,
            client_id=client_id,
            idempotency_key_digest=digest,
            correlation_id=uuid.uuid4(),
            # Under a key, the order lives where its claim does: one script on one slot.
            order_id=None if digest is None else self._claimed_order_id(client_id, digest),
        )
        claim = None
        if digest is not None:
            record = IdempotencyRecord(event.order_id, fingerprint(command))
            claim = Claim(
                self._keys.idempotency(client_id, digest), record.encode(), KEY_TTL_SECONDS
            )
        try:
            result = await self._appender.append([event], expected_sequence=0, claim=claim)
        except REDIS_UNAVAILABLE as exc:
            raise PlacementOutcomeUnknownError(event.order_id) from exc
        if isinstance(result, ClaimTaken):
            assert idempotency_key is not None
            earlier = IdempotencyRecord.decode(result.value)
            if earlier.fingerprint != fingerprint(command):
                raise IdempotencyConflictError(idempotency_key, earlier.order_id)
            return Placed(earlier.order_id, None, replayed=True)
        return Placed(event.order_id, result[0], replayed=False)

    def _claimed_order_id(self, client_id: str, digest: str) -> uuid.UUID | None:
        keys = self._keys
        if keys.partitions == 1:
            return None
        return order_id_in(keys.claim_partition(client_id, digest), keys.partitions)

    async def launch(self, body: Any) -> Launched:
        """Record a pool launch (listing tokenB when it is new); refused when the venue has the
        pair already, named either way round."""
        await self.listings.refresh()
        command, decimals_b = parse_launch_pool(body)
        venue, token_a, token_b = command.venue, command.token_a, command.token_b
        existing = await self._redis.exists(
            self._keys.pool(venue, f"{token_a}/{token_b}"),
            self._keys.pool(venue, f"{token_b}/{token_a}"),
        )
        if existing:
            raise PoolExistsError(venue, token_a, token_b)
        event = decide_launch_pool(command, decimals_b)
        try:
            positions = await self._appender.append([event], expected_sequence=0)
        except ConcurrencyError:
            raise PoolExistsError(venue, token_a, token_b) from None
        listed = token_b not in TOKENS
        payload = event.payload
        await save_listing(self._redis, self._keys, Token(token_b, payload.mint_b, decimals_b))
        return Launched(event.order_id, venue, f"{token_a}/{token_b}", positions[0], listed)

    async def cancel(self, order_id: uuid.UUID, reason: str = "cancelled by client") -> Cancelled:
        """Cancel an order not yet submitted; returns where `OrderCancelled` stands. Cancelling an
        order that is cancelled already answers the same (a retried request after a lost reply
        must not hear "too late")."""
        for _ in range(5):
            history = await read_order(self._redis, self._keys, order_id, self._archive)
            if not history or not isinstance(history[0].event.payload, OrderPlaced):
                raise OrderNotFoundError(order_id)  # nothing, or not an order (a pool's launch)
            state = fold(r.event for r in history)
            assert state is not None
            if state.status is OrderStatus.CANCELLED:
                done = next(r for r in reversed(history) if r.event.type == "OrderCancelled")
                return Cancelled(done.position, replayed=True)
            if state.status not in CANCELLABLE_STATUSES:
                raise TooLateToCancelError(order_id, state.status.value)
            event = new_event(
                OrderCancelled(reason=reason),
                order_id=order_id,
                sequence=state.sequence + 1,
                correlation_id=state.correlation_id,
            )
            try:
                positions = await self._appender.append([event], expected_sequence=state.sequence)
            except ConcurrencyError:
                continue  # the processor (or another cancel) moved the order on: look again
            return Cancelled(positions[0], replayed=False)
        raise TooLateToCancelError(order_id, "changing too fast")
