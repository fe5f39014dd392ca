"""The execution processor: consumer group `execution`, one market order per OrderPlaced entry.

At most `max_concurrent_orders` orders in hand; an entry is acked only once its order is terminal,
so a processor that dies mid-order leaves it to be reclaimed and resumed by another."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from eventlog.append import ConcurrencyError
from eventlog.cancelling import cancel_until_done
from eventlog.codec import Recorded
from eventlog.consumer import Consumer
from eventlog.consumer_config import ConsumerConfig
from eventlog.keys import EXECUTION_GROUP
from eventlog.reading import read_order
from eventlog.store_errors import REDIS_UNAVAILABLE
from processors.errors import ErrorCode
from processors.fill_rescue import rescued_confirmation
from processors.landing_order import LandingOrder
from processors.market_moves import log_market_moves
from processors.order_lifecycle import OrderExecution
from processors.order_logs import log_order
from processors.pool_launches import open_launched_pool
from processors.price_publisher import publish_venue_prices
from processors.processor_resources import ExecutionContext
from processors.resting_book import RestingBook
from processors.resting_orders import RestingOrders
from processors.trigger_engine import TriggerEngine
from schema.events import (
    OrderCancelled,
    OrderFailed,
    OrderPlaced,
    OrderTriggered,
    PoolLaunched,
    RoutingStarted,
    new_event,
)
from schema.statuses import OrderStatus

logger = logging.getLogger(__name__)

STATS_INTERVAL_S = 1.0


class ExecutionProcessor:
    def __init__(self, context: ExecutionContext, config: ConsumerConfig) -> None:
        """`config` is this processor's consumer in the execution group, `context` what its
        orders share; both come from the composition root (`oee.wiring.execution_processor`)."""
        self.name = config.name
        self.settings = context.settings
        self.keys = context.keys
        self.market = context.market
        self.stats = context.stats
        self._redis = context.redis
        self._context = context
        self.consumer = Consumer(
            context.redis, context.keys, config, self._handle, on_dead_letter=self._on_dead_letter
        )
        self.book = RestingBook(context.redis, context.keys)
        self.triggers = TriggerEngine(context, self.book)
        self._resting = RestingOrders(context, self.book, self.triggers)
        self._landing = LandingOrder()
        self._in_hand: dict[str, float] = {}  # entry position -> when its order was taken
        self._order_tasks: set[asyncio.Task[Any]] = set()
        self._prepared = False

    async def prepare(self) -> None:
        """Seed the market's pools (idempotent) and create the consumer group."""
        await self.market.seed()
        await self.consumer.ensure_group()
        self._prepared = True

    async def run(self, stop: asyncio.Event) -> None:
        """Execute orders until `stop` is set, then finish the orders in hand and return.
        Cancelling it instead abandons the orders in hand, to be resumed from the log."""
        if not self._prepared:
            await self.prepare()
        halt = asyncio.Event()
        follower = asyncio.create_task(_set_when(stop, halt))
        background = [
            asyncio.create_task(self._every(halt, self._lease_interval(), self._keep_leases)),
            asyncio.create_task(self._every(halt, STATS_INTERVAL_S, self.publish_stats)),
            asyncio.create_task(
                self._every(halt, self.settings.venue_drift_interval_ms / 1000, self._market_tick)
            ),
            asyncio.create_task(
                self._every(halt, self.settings.trigger_interval_ms / 1000, self.triggers.tick)
            ),
        ]
        consumer = asyncio.create_task(self.consumer.run(halt))
        try:
            done, _ = await asyncio.wait(
                [consumer, *background], return_when=asyncio.FIRST_COMPLETED
            )
            halt.set()
            await consumer
            for task in done:
                task.result()  # a background loop that died surfaces here
        except asyncio.CancelledError:
            # Cancelled from outside: drop the orders in hand as a crash would; their entries stay
            # pending for whoever reclaims them.
            halt.set()  # should a cancellation be swallowed, the consumer stops at its next round
            await asyncio.gather(*(cancel_until_done(task) for task in list(self._order_tasks)))
            await cancel_until_done(consumer)
            raise
        finally:
            halt.set()
            follower.cancel()
            for task in background:
                task.cancel()
            await asyncio.gather(follower, *background, return_exceptions=True)
            with contextlib.suppress(*REDIS_UNAVAILABLE):
                await self.publish_stats()

    async def drain(self) -> int:
        """Execute every order waiting in the log to its end (tests); returns entries handled."""
        if not self._prepared:
            await self.prepare()
        return await self.consumer.drain()

    async def publish_stats(self) -> None:
        """Write the counters and gauges to keys.execution_stats(name), kept for health_ttl."""
        fields = {k: str(v) for k, v in dataclasses.asdict(self.stats).items()}
        fields.update(
            max_concurrent_orders=str(self.settings.max_concurrent_orders),
            max_orders_per_minute=str(self.settings.max_orders_per_minute),
            dead_lettered=str(self.consumer.stats.dead_lettered),
            updated_at=str(time.time()),
        )
        key = self.keys.execution_stats(self.name)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(key, self.settings.health_ttl_seconds)
            await pipe.execute()

    async def _handle(self, batch: Sequence[Recorded]) -> None:
        for recorded in batch:
            payload = recorded.event.payload
            if isinstance(payload, OrderPlaced):
                if payload.order_type == "market":
                    await self._execute(recorded)
                else:
                    await self._resting.open(recorded)
            elif isinstance(payload, OrderTriggered):
                await self._execute(recorded)
            elif isinstance(payload, OrderCancelled):
                await self._resting.forget(recorded)
            elif isinstance(payload, PoolLaunched):
                await open_launched_pool(self._context, self.triggers, payload)

    async def _execute(self, recorded: Recorded) -> None:
        order_id = recorded.event.order_id
        payload = recorded.event.payload
        sniper = isinstance(payload, OrderTriggered) and payload.limit_price is None
        turn = self._landing.take() if sniper else None  # before any await: in log order
        stats = self.stats
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        self._in_hand[recorded.position] = time.monotonic()
        task = asyncio.current_task()
        assert task is not None
        self._order_tasks.add(task)
        try:
            if isinstance(recorded.event.payload, OrderPlaced):
                history = [recorded.event]
            else:  # a trigger: the order's history is needed, its OrderPlaced is long ago
                history = [r.event for r in await self._history(order_id)]
            execution = OrderExecution(self._context, history, recorded.position, turn)
            state = await execution.run()
            if state.status is OrderStatus.OPEN:  # the market moved back below the limit
                await self._resting.rest(state, execution.last_event)
        finally:
            if turn is not None:
                turn.release()
            stats.in_flight -= 1
            del self._in_hand[recorded.position]
            self._order_tasks.discard(task)

    async def _history(self, order_id: uuid.UUID) -> list[Recorded]:
        return await read_order(self._redis, self.keys, order_id, self._context.archive)

    async def _on_dead_letter(self, recorded: Recorded, reason: str) -> None:
        """A poison OrderPlaced: end the order, once. If a submission of it filled, confirm that
        fill; otherwise void its submissions so none can fill later, and fail the order."""
        if not isinstance(recorded.event.payload, OrderPlaced | OrderTriggered):
            return
        order_id = recorded.event.order_id
        while True:
            history = [r.event for r in await self._history(order_id)]
            if not history or history[-1].type in _TERMINAL_EVENT_TYPES:
                return
            fill = await self.market.void(order_id)
            payload = rescued_confirmation(history, fill) or OrderFailed(
                attempts=max(
                    (e.payload.attempt for e in history if isinstance(e.payload, RoutingStarted)),
                    default=0,
                ),
                error_code=ErrorCode.PROCESSING_ERROR,
                error_message=f"the order could not be processed: {reason}",
            )
            last = history[-1]
            closing = new_event(
                payload,
                order_id=order_id,
                sequence=last.sequence + 1,
                correlation_id=last.correlation_id,
                causation_id=last.event_id,
            )
            try:
                positions = await self._context.appender.append(
                    [closing], expected_sequence=last.sequence
                )
            except ConcurrencyError:
                continue
            log_order(
                logger,
                logging.ERROR,
                order_id,
                closing.event_id,
                positions[0],
                "%s after dead-lettering entry %s: %s",
                closing.type,
                recorded.position,
                reason,
            )
            return

    async def _market_tick(self) -> None:
        """Drift the prices (re-creating the market if Redis lost it, a flush say), then publish
        them for the dashboard."""
        await self.market.seed()
        await self.market.drift()
        await log_market_moves(self._redis, self.keys, self._context.appender)
        await publish_venue_prices(self.market, self._redis, self.keys, self.settings)

    async def _keep_leases(self) -> None:
        """Reset the idle time of entries in hand for a while, so XAUTOCLAIM leaves them be."""
        threshold = time.monotonic() - self._lease_interval()
        held: list[str | bytes | int | memoryview[int]] = [
            position for position, since in self._in_hand.items() if since <= threshold
        ]
        if held:
            await self._redis.xclaim(
                self.keys.events, EXECUTION_GROUP, self.name, 0, held, justid=True
            )

    def _lease_interval(self) -> float:
        return max(0.01, self.settings.consumer_claim_idle_ms / 3000)

    async def _every(
        self, halt: asyncio.Event, interval_s: float, action: Callable[[], Awaitable[object]]
    ) -> None:
        while not halt.is_set():
            try:
                await action()
            except REDIS_UNAVAILABLE as exc:
                logger.warning("%s: %s; trying again in %.2f s", action.__name__, exc, interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(halt.wait(), interval_s)


async def _set_when(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


_TERMINAL_EVENT_TYPES = frozenset(
    {"OrderConfirmed", "OrderFailed", "OrderCancelled", "OrderExpired"}
)
