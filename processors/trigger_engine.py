"""The trigger engine: watches the pools and turns resting limit orders into executions, or
expires them.

Every tick reads one snapshot of the pools; for each direction with resting orders whose pools
changed since the last tick (and for all of them once a second), it reads from the book only the
orders whose limit price the market could reach (a range read below the best spot price), prices
each for its full size, and triggers those that get at least amountIn * limitPrice: an
`OrderTriggered` appended after the order's `OrderOpened`, consumed by the execution group like
an `OrderPlaced`. Every processor runs one; the expected sequence makes each trigger and each
expiry happen once, whoever gets there first."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

from eventlog.append import AppendRequest, ConcurrencyError
from processors.limit_prices import limit_units, market_out, price_bound
from processors.market import PoolId
from processors.order_logs import log_order
from processors.pools import Pool, to_amount
from processors.processor_resources import ExecutionContext
from processors.resting_book import RestingBook, RestingOrder
from processors.route_choice import pools_for
from processors.sniper_triggers import SniperSteps, served
from schema.events import Event, OrderExpired, OrderTriggered, Payload, new_event

logger = logging.getLogger(__name__)

# Orders read per direction and tick, and expiries per tick: bounds the work of one tick.
PAGE = 1000
# Every direction is looked at this often even when its pools did not change.
SWEEP_INTERVAL_S = 1.0
# Sniper orders a launch serves are appended this many at a time.
SNIPER_CHUNK = 50
# A price bound is widened by this much, so rounding never hides an order at the boundary.
BOUND_MARGIN = 1e-9


class TriggerEngine:
    def __init__(self, context: ExecutionContext, book: RestingBook) -> None:
        self._ctx = context
        self._book = book
        self._seen: dict[PoolId, Pool] = {}
        self._swept_at = 0.0
        self.triggered = 0
        self.expired = 0

    async def tick(self) -> None:
        """Trigger what the market reaches, then expire what is due."""
        market = self._ctx.market
        pools = await market.pools(market.all_pool_ids())
        changed = {pid for pid, pool in pools.items() if self._seen.get(pid) != pool}
        changed |= set(self._seen) - set(pools)
        self._seen = pools
        sweep = time.monotonic() - self._swept_at >= SWEEP_INTERVAL_S
        if sweep:
            self._swept_at = time.monotonic()
        for kind, token_in, token_out in await self._book.directions():
            if sweep or not changed.isdisjoint(pools_for(token_in, token_out)):
                if kind == "limit":
                    await self._evaluate(pools, token_in, token_out)
                else:
                    await self.evaluate_snipers(token_in, token_out, pools)
        await self.expire_due()

    async def evaluate(self, order: RestingOrder) -> None:
        """Trigger one order now if the market gives its price (an order that opens below the
        market fills at once), or, for a sniper order, if its pool is there already."""
        pools = await self._ctx.market.pools(pools_for(order.token_in, order.token_out))
        if order.kind == "limit":
            await self._finish(self._ready(pools, [order]))
        else:
            await self._trigger_snipers(pools, [order])

    async def evaluate_snipers(
        self, token_in: str, token_out: str, pools: Mapping[PoolId, Pool] | None = None
    ) -> None:
        """Trigger, in the order they were placed, the direction's sniper orders whose pool is
        open with the liquidity they ask for."""
        if pools is None:
            pools = await self._ctx.market.pools(pools_for(token_in, token_out))
        await self._trigger_snipers(pools, await self._book.snipers(token_in, token_out, PAGE))

    async def _trigger_snipers(
        self, pools: Mapping[PoolId, Pool], waiting: Sequence[RestingOrder]
    ) -> None:
        """Append each served order's steps, a chunk at a time: a chunk goes to Redis while the
        next one is built, and the log keeps the orders' order."""
        ready = served(pools, waiting)
        if not ready:
            return
        steps = SniperSteps(pools, to_submission=not self._ctx.limiter.enabled)
        sends = []
        for start in range(0, len(ready), SNIPER_CHUNK):
            requests = [
                AppendRequest(self._events_after(order, steps.steps(order)), order.sequence)
                for order in ready[start : start + SNIPER_CHUNK]
            ]
            sends.append(asyncio.create_task(self._ctx.appender.append_many(requests)))
            await asyncio.sleep(0)  # let this chunk leave before the next is built
        results = [result for chunk in await asyncio.gather(*sends) for result in chunk]
        self.triggered += sum(isinstance(result, list) for result in results)
        self._ctx.stats.started += steps.submitted
        await self._book.remove(ready)

    async def expire_due(self) -> None:
        due = await self._book.due(time.time(), PAGE)
        if not due:
            return
        results = await asyncio.gather(
            *(self._append_after(order, OrderExpired()) for order in due)
        )
        self.expired += sum(results)
        await self._book.remove(due)

    async def _evaluate(self, pools: Mapping[PoolId, Pool], token_in: str, token_out: str) -> None:
        bound = price_bound(pools, token_in, token_out)
        if bound <= 0:
            return
        reached = await self._book.reached(token_in, token_out, bound * (1 + BOUND_MARGIN), PAGE)
        await self._finish(self._ready(pools, reached))

    def _ready(
        self, pools: Mapping[PoolId, Pool], orders: Sequence[RestingOrder]
    ) -> list[tuple[RestingOrder, int]]:
        ready = []
        for order in orders:
            assert order.limit_price is not None
            wanted = limit_units(order.amount_in, order.limit_price, order.token_out)
            out = market_out(pools, order.token_in, order.token_out, order.amount_in, wanted)
            if out is not None and out >= wanted:
                ready.append((order, out))
        return ready

    async def _finish(self, ready: Sequence[tuple[RestingOrder, int]]) -> None:
        """Trigger the ready orders (each gets what it was priced at) and take them off the book."""
        if not ready:
            return
        results = await asyncio.gather(
            *(
                self._append_after(
                    order,
                    OrderTriggered(
                        limit_price=order.limit_price,
                        market_out=to_amount(out, order.token_out),
                    ),
                )
                for order, out in ready
            )
        )
        self.triggered += sum(results)
        await self._book.remove([order for order, _ in ready])

    async def _append_after(self, order: RestingOrder, *payloads: Payload) -> bool:
        """Append `payloads` right after the order's OrderOpened; False when the order had moved
        on (triggered or expired by another processor, cancelled, ...): its entry is stale."""
        events = self._events_after(order, payloads)
        try:
            await self._ctx.appender.append(events, expected_sequence=order.sequence)
        except ConcurrencyError:
            return False
        log_order(logger, logging.INFO, order.order_id, events[0].event_id, None, events[0].type)
        return True

    def _events_after(
        self, order: RestingOrder, payloads: Sequence[Payload]
    ) -> list[Event[Payload]]:
        """The events of `payloads`, numbered and chained after the order's OrderOpened."""
        events: list[Event[Payload]] = []
        cause = order.opened_event_id
        for offset, payload in enumerate(payloads, start=1):
            event = new_event(
                payload,
                order_id=order.order_id,
                sequence=order.sequence + offset,
                correlation_id=order.correlation_id,
                causation_id=cause,
            )
            events.append(event)
            cause = event.event_id
        return events
