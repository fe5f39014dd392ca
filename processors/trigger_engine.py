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

from eventlog.append import ConcurrencyError
from processors.initial_market import VENUES
from processors.limit_prices import full_size_out, limit_units, price_bound
from processors.market import PoolId
from processors.order_logs import log_order
from processors.pools import Pool, to_amount, to_units
from processors.processor_resources import ExecutionContext
from processors.resting_book import RestingBook, RestingOrder
from processors.route_choice import find_pool, pools_for
from schema.events import OrderExpired, OrderTriggered, Payload, new_event

logger = logging.getLogger(__name__)

# Orders read per direction and tick, and expiries per tick: bounds the work of one tick.
PAGE = 1000
# Every direction is looked at this often even when its pools did not change.
SWEEP_INTERVAL_S = 1.0
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
        ready = self._ready(pools, [order]) if order.kind == "limit" else _launched(pools, [order])
        await self._finish(ready)

    async def evaluate_snipers(
        self, token_in: str, token_out: str, pools: Mapping[PoolId, Pool] | None = None
    ) -> None:
        """Trigger, in the order they were placed, the direction's sniper orders whose pool is
        open with the liquidity they ask for."""
        if pools is None:
            pools = await self._ctx.market.pools(pools_for(token_in, token_out))
        waiting = await self._book.snipers(token_in, token_out, PAGE)
        await self._finish(_launched(pools, waiting))

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
            out = full_size_out(pools, order.token_in, order.token_out, order.amount_in)
            if out is not None and out >= limit_units(
                order.amount_in, order.limit_price, order.token_out
            ):
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

    async def _append_after(self, order: RestingOrder, payload: Payload) -> bool:
        """Append `payload` right after the order's OrderOpened; False when the order had moved
        on (triggered or expired by another processor, cancelled, ...): its entry is stale."""
        event = new_event(
            payload,
            order_id=order.order_id,
            sequence=order.sequence + 1,
            correlation_id=order.correlation_id,
            causation_id=order.opened_event_id,
        )
        try:
            await self._ctx.appender.append([event], expected_sequence=order.sequence)
        except ConcurrencyError:
            return False
        log_order(logger, logging.INFO, order.order_id, event.event_id, None, event.type)
        return True


def _launched(
    pools: Mapping[PoolId, Pool], orders: Sequence[RestingOrder]
) -> list[tuple[RestingOrder, int]]:
    """The sniper orders (in the order given) for which a venue has a pool of their pair holding
    at least their minLiquidity of tokenIn, each with what the best route gives it now."""
    ready = []
    for order in orders:
        held = [
            pool.reserve_a if order.token_in == pool.token_a else pool.reserve_b
            for venue in VENUES
            if (pool := find_pool(pools, venue, order.token_in, order.token_out)) is not None
        ]
        least = 0 if order.min_liquidity is None else to_units(order.min_liquidity, order.token_in)
        if held and max(held) >= least:
            out = full_size_out(pools, order.token_in, order.token_out, order.amount_in)
            ready.append((order, out or 0))
    return ready
