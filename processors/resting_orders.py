"""Resting orders (limit and sniper) between executions: opening a placed one (or expiring it, if
it waited past its time), putting an open one in the book and trying it against the market at
once, and taking a cancelled one off the book.

Each step is idempotent, and the execution group's entry is acked only after it: a processor that
dies half-way leaves the entry to whoever reclaims it, who finds the order where it stands."""

from __future__ import annotations

from datetime import UTC, datetime

from eventlog.append import ConcurrencyError
from eventlog.codec import Recorded
from eventlog.reading import read_order
from processors.processor_resources import ExecutionContext
from processors.resting_book import RestingBook, RestingOrder
from processors.trigger_engine import TriggerEngine
from schema.events import Event, OrderExpired, OrderOpened, Payload, new_event
from schema.order_state import OrderState, fold
from schema.statuses import OrderStatus


class RestingOrders:
    def __init__(self, context: ExecutionContext, book: RestingBook, engine: TriggerEngine) -> None:
        self._ctx = context
        self._book = book
        self._engine = engine

    async def open(self, placed: Recorded) -> None:
        """Move a placed limit order to open (or expired) and rest it."""
        history: list[Event[Payload]] = [placed.event]
        while True:
            state = fold(history)
            assert state is not None
            if state.status is OrderStatus.OPEN:
                await self.rest(state, history[-1])
                return
            if state.status is not OrderStatus.PENDING:
                return  # cancelled, or opened and triggered since: not this entry's to move
            assert state.expires_at is not None
            payload: Payload = (
                OrderExpired()
                if state.expires_at <= datetime.now(UTC)
                else OrderOpened(limit_price=state.limit_price)
            )
            event = new_event(
                payload,
                order_id=state.id,
                sequence=state.sequence + 1,
                correlation_id=state.correlation_id,
                causation_id=history[-1].event_id,
            )
            try:
                await self._ctx.appender.append([event], expected_sequence=state.sequence)
                history.append(event)
            except ConcurrencyError:
                ctx = self._ctx
                history = [
                    r.event for r in await read_order(ctx.redis, ctx.keys, state.id, ctx.archive)
                ]

    async def rest(self, state: OrderState, opened: Event[Payload]) -> None:
        """Put an open order (its last event `opened`) in the book, then try it at once."""
        assert isinstance(opened.payload, OrderOpened)
        assert state.expires_at is not None
        order = RestingOrder(
            placed_at=state.created_at.timestamp(),
            min_liquidity=state.min_liquidity,
            slippage=state.slippage,
            order_id=state.id,
            sequence=opened.sequence,
            token_in=state.token_in,
            token_out=state.token_out,
            amount_in=state.amount_in,
            limit_price=opened.payload.limit_price,
            expires_at=state.expires_at.timestamp(),
            opened_event_id=opened.event_id,
            correlation_id=state.correlation_id,
            client_id=state.client_id or "",
        )
        await self._book.add(order)
        await self._engine.evaluate(order)

    async def forget(self, cancelled: Recorded) -> None:
        """Take a cancelled order off the book: the entry its cancel made stale, if it rested."""
        event = cancelled.event
        stale = await self._book.find(event.order_id, event.sequence - 1)
        if stale is not None:
            await self._book.remove([stale])
