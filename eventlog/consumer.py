"""The consumer-group loop shared by every processor and projector.

Delivery is at-least-once: an entry is acked only after its handler returned. Each round reads this
consumer's own pending entries first, then reclaims entries idle too long elsewhere (XAUTOCLAIM),
then reads new ones. An entry delivered more than `max_deliveries` times goes to the dead-letter
stream with its last error, and is acked there, in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from eventlog.backoff import FailureStreak, while_unreachable
from eventlog.codec import Recorded, UndecodableEntryError, decode
from eventlog.consumer_config import ConsumerConfig, ConsumerStats
from eventlog.consumer_health import publish_heartbeat, withdraw_heartbeat
from eventlog.dead_letters import DeadLetters
from eventlog.group_reads import Delivery, GroupReads
from eventlog.keys import Keys

logger = logging.getLogger(__name__)

Handler = Callable[[Sequence[Recorded]], Awaitable[None]]
DeadLetterHook = Callable[[Recorded, str], Awaitable[None]]


class Consumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        config: ConsumerConfig,
        handler: Handler,
        *,
        on_dead_letter: DeadLetterHook | None = None,
        partition: int = 0,
        stats: ConsumerStats | None = None,
    ) -> None:
        """A consumer of one partition of the log (the only one, unless it has more: see
        eventlog.partitioned_consumer); `stats` may be shared with the other partitions'."""
        self._redis = redis
        self._keys = keys
        self.config = config
        self._handler = handler
        self._on_dead_letter = on_dead_letter
        self._stream = keys.stream(partition)
        self._reads = GroupReads(redis, self._stream, config.group, config.name)
        self._dead_letters = DeadLetters(redis, keys, config.group, config.name, partition)
        self._streak = FailureStreak(config.failure_backoff_s)
        self._stopping = asyncio.Event()
        self.stats = ConsumerStats() if stats is None else stats
        self._in_flight: set[asyncio.Task[None]] = set()
        self._check_own_pending = True
        self._next_claim_at = 0.0
        self._next_health_at = 0.0
        self._wanted = None if config.types is None else frozenset(t.encode() for t in config.types)
        self._acks: list[str] = []  # finished in parallel mode, acked at the next round
        # Positions handed to a task and not yet acked: a re-read of this consumer's pending
        # entries returns them too, and they must not be handled twice at once.
        self._held: set[str] = set()

    # -- running -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then finish the entries in hand and return. A handler
        waiting for an unreachable store gives up once `stop` is set (its entries stay pending,
        for this consumer's next start or another consumer to reclaim)."""
        self._stopping = stop
        try:
            async for attempt in while_unreachable(
                self.config.infrastructure_errors,
                base_s=self.config.failure_backoff_s,
                logger=logger,
                give_up=stop.is_set,
                what=f"consumer {self.config.group}/{self.config.name}: Redis",
            ):
                with attempt:
                    await self.ensure_group()
        except self.config.infrastructure_errors as exc:
            logger.warning(
                "consumer %s/%s stopped before the log was reachable: %s", *self._me, exc
            )
            return
        try:
            while not stop.is_set():
                taken = await self._round(block_ms=self.config.block_ms)
                if self.config.linger_ms and taken < self.config.batch_size:
                    with contextlib.suppress(TimeoutError):  # lingered: read again
                        await asyncio.wait_for(stop.wait(), self.config.linger_ms / 1000)
        finally:
            await self._finish_in_flight()
            try:
                await withdraw_heartbeat(self._redis, self._keys, *self._me)
            except self.config.infrastructure_errors as exc:  # the heartbeat expires by itself
                logger.warning("consumer %s/%s: heartbeat left to expire: %s", *self._me, exc)

    @property
    def _me(self) -> tuple[str, str]:
        return self.config.group, self.config.name

    async def drain(self) -> int:
        """Consume until nothing is pending here, reclaimable or new; returns entries handled."""
        await self.ensure_group()
        before = self.stats.handled
        while True:
            got = await self._round(block_ms=None)
            await self._finish_in_flight()
            if got == 0 and not self._check_own_pending:
                return self.stats.handled - before

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._stream, self.config.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _round(self, *, block_ms: int | None) -> int:
        """One read-handle cycle; returns how many entries it took in."""
        try:
            await self._flush_acks()
            await self._beat()
            free = self._free_slots()
            if free == 0:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                return 1
            if self._check_own_pending:
                entries = await self._reads.read(free, "0", block_ms=None)
                if not entries:
                    self._check_own_pending = False
                    return await self._round(block_ms=block_ms)
                return await self._take(await self._reads.with_delivery_counts(entries))
            if time.monotonic() >= self._next_claim_at or block_ms is None:
                self._next_claim_at = time.monotonic() + self.config.claim_idle_ms / 2000
                claimed = await self._reads.claim(free, self.config.claim_idle_ms)
                if claimed:
                    self.stats.reclaimed += len(claimed)
                    return await self._take(await self._reads.with_delivery_counts(claimed))
            entries = await self._reads.read(free, ">", block_ms=block_ms)
            return await self._take([(position, fields, 1) for position, fields in entries])
        # Before ResponseError: a Redis at maxmemory answers with one (OutOfMemoryError).
        except self.config.infrastructure_errors as exc:
            logger.warning("consumer %s/%s: %s; retrying", *self._me, exc)
            self.stats.store_retries += 1
            await self._streak.wait()
            return 1
        except ResponseError as exc:
            if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                raise
            logger.warning(
                "group %s is gone (Redis flushed or restarted?); recreating it", self.config.group
            )
            await self.ensure_group()
            return 1

    # -- handling --------------------------------------------------------------------------------

    async def _take(self, entries: list[Delivery]) -> int:
        if not entries:
            return 0
        batch: list[Recorded] = []
        skipped: list[bytes] = []
        for position, fields, deliveries in entries:
            if not fields or (self._wanted is not None and fields.get(b"type") not in self._wanted):
                skipped.append(position)  # deleted while pending, or not for this consumer
                continue
            try:
                recorded = decode(position, fields)
            except UndecodableEntryError as exc:
                await self._dead_letter(position, fields, None, str(exc), deliveries)
                continue
            if deliveries > self.config.max_deliveries:
                reason = await self._dead_letters.last_error(position)
                await self._dead_letter(position, fields, recorded, reason, deliveries)
                continue
            batch.append(recorded)
        if skipped:
            await self._reads.ack(*skipped)
            self.stats.skipped += len(skipped)
        if self.config.parallel == 1:
            if batch:
                await self._handle(batch)
        else:
            for recorded in batch:
                if recorded.position in self._held:
                    continue
                self._held.add(recorded.position)
                task = asyncio.create_task(self._handle([recorded]))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
        return len(entries)

    async def _handle(self, batch: list[Recorded]) -> None:
        try:
            try:
                await self._handler(batch)
            except self.config.infrastructure_errors:  # a store is away: retry in place
                async for attempt in while_unreachable(
                    self.config.infrastructure_errors,
                    base_s=self.config.failure_backoff_s,
                    logger=logger,
                    give_up=self._stopping.is_set,
                ):
                    with attempt:
                        await self._handler(batch)
        except self.config.infrastructure_errors:
            raise
        except Exception as exc:  # the handler's own failure: isolate the entry that causes it
            if len(batch) > 1:
                # Halves, in log order: one bad entry in 2,000 costs about 22 handler calls
                # instead of 2,000, and the good entries are still handled in batches.
                middle = len(batch) // 2
                await self._handle(batch[:middle])
                await self._handle(batch[middle:])
                return
            await self._record_failure(batch[0], exc)
            return
        self._streak.reset()
        self.stats.handled += len(batch)
        if self.config.parallel == 1:
            await self._reads.ack(*(r.position for r in batch))
        else:  # acked with the others that finished meanwhile, one XACK a round
            self._acks.extend(r.position for r in batch)

    async def _flush_acks(self) -> None:
        if self._acks:
            positions, self._acks = self._acks, []
            await self._reads.ack(*positions)
            self._held.difference_update(positions)

    async def _record_failure(self, recorded: Recorded, exc: Exception) -> None:
        event = recorded.event
        logger.error(
            "%s/%s failed on %s order_id=%s event_id=%s position=%s: %r",
            self.config.group,
            self.config.name,
            event.type,
            event.order_id,
            event.event_id,
            recorded.position,
            exc,
            extra={
                "order_id": str(event.order_id),
                "event_id": str(event.event_id),
                "position": recorded.position,
            },
        )
        self.stats.failures += 1
        self._held.discard(recorded.position)
        await self._dead_letters.record_error(recorded.position, exc)
        self._check_own_pending = True
        await self._streak.wait()

    async def _dead_letter(
        self,
        position: bytes,
        fields: dict[bytes, bytes],
        recorded: Recorded | None,
        reason: str,
        deliveries: int,
    ) -> None:
        if recorded is not None and self._on_dead_letter is not None:
            await self._on_dead_letter(recorded, reason)
        await self._dead_letters.send(position, fields, reason, deliveries)
        self.stats.dead_lettered += 1

    # -- bookkeeping -----------------------------------------------------------------------------

    def _free_slots(self) -> int:
        if self.config.parallel == 1:
            return self.config.batch_size
        return min(self.config.batch_size, self.config.parallel - len(self._in_flight))

    async def _finish_in_flight(self) -> None:
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._flush_acks()

    async def _beat(self) -> None:
        now = time.monotonic()
        if now < self._next_health_at:
            return
        self._next_health_at = now + self.config.health_ttl_seconds / 3
        await publish_heartbeat(
            self._redis,
            self._keys,
            self.config.group,
            self.config.name,
            self.config.health_ttl_seconds,
            handled=self.stats.handled,
            in_flight=len(self._in_flight),
            dead_lettered=self.stats.dead_lettered,
        )
