"""One market order driven from its last event to a terminal one, retrying transient failures.

Each step appends with the expected sequence: if anyone else wrote (a cancel, another processor),
the order is re-read and resumed from its last event; idempotent submission never fills twice."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from tenacity import RetryCallState

from eventlog.append import ConcurrencyError
from eventlog.reading import order_sequence, read_order
from processors.errors import ErrorCode, ExecutionError
from processors.landing_order import Turn
from processors.limit_prices import at_limit
from processors.order_logs import log_order
from processors.pools import to_amount, to_units
from processors.processor_resources import ExecutionContext
from processors.retry_policy import retrying
from processors.route_fills import plan_from_quote
from processors.transactions import transaction_hash, transaction_steps
from schema.events import (
    AttemptFailed,
    Event,
    OrderConfirmed,
    OrderFailed,
    OrderOpened,
    OrderPlaced,
    OrderTriggered,
    Payload,
    RouteSelected,
    RoutingStarted,
    TransactionBuilt,
    TransactionSubmitted,
    new_event,
)
from schema.order_state import OrderState, apply, fold
from schema.statuses import OrderStatus, is_terminal

logger = logging.getLogger(__name__)


class OrderExecution:
    def __init__(
        self,
        context: ExecutionContext,
        history: list[Event[Payload]],
        position: str,
        turn: Turn | None = None,
    ) -> None:
        """`history` is the order's as far as known: its OrderPlaced alone for a new market order
        (optimistic: the first append expects sequence 1, which proves the history is exactly
        that; if it has moved on, the append fails and the history is read), or all of it."""
        self._ctx = context
        self._order_id = history[0].order_id
        self._history = list(history)
        self._state = _fold(self._history)
        self._position = position
        self._turn = turn  # a sniper order's place in the landing order

    @property
    def state(self) -> OrderState:
        return self._state

    @property
    def last_event(self) -> Event[Payload]:
        return self._history[-1]

    async def run(self) -> OrderState:
        while True:
            try:
                await self._drive()
                return self._state
            except ConcurrencyError:
                await self._reload()

    async def _drive(self) -> None:
        s = self._state
        if is_terminal(s.status) or s.status is OrderStatus.OPEN:
            return  # done, or a limit order resting: the trigger engine moves it
        last = self._history[-1]
        if isinstance(last.payload, AttemptFailed):
            await self._wait_for_retry(last)  # a retry that was due when the last processor died
            first_attempt = last.payload.attempt + 1
        elif isinstance(last.payload, OrderPlaced):
            if last.payload.order_type != "market":
                return
            first_attempt = 1
        elif isinstance(last.payload, OrderTriggered):
            first_attempt = s.attempts + 1
        else:
            first_attempt = max(1, s.attempts)
        # Each trigger of a limit order has the whole budget; a market order has one trigger.
        limit = self._ctx.settings.max_retry_attempts + s.attempt_base
        if first_attempt > limit:  # MAX_RETRY_ATTEMPTS was lowered while the order waited
            message = f"no attempt left of {limit}; the last failed with {self._state.error_code}"
            await self._fail(ExecutionError(self._order_id, ErrorCode.PROCESSING_ERROR, message))
            return
        await self._attempts(first_attempt)

    async def _attempts(self, first: int) -> None:
        tried = first - 1 - self._state.attempt_base  # attempts of this trigger made already
        try:
            async for attempt in retrying(self._ctx.settings, tried, self._record_attempt_failed):
                with attempt:
                    await self._attempt()
        except ExecutionError as exc:
            if self._state.order_type == "limit" and exc.code is ErrorCode.SLIPPAGE_EXCEEDED:
                await self._reopen(exc)
            else:
                await self._fail(exc)

    async def _reopen(self, error: ExecutionError) -> None:
        """The market moved back below the limit before the swap landed: rest again."""
        assert self._state.limit_price is not None
        await self._append(
            OrderOpened(limit_price=self._state.limit_price, reopened_after=error.code)
        )
        self._ctx.stats.reopened += 1
        self._log(logging.INFO, "open again: %s", error.message)

    async def _attempt(self) -> None:
        """Move the order from its last event to confirmed, or raise this attempt's error."""
        while not is_terminal(self._state.status):
            payload = self._history[-1].payload
            if isinstance(payload, OrderPlaced | OrderTriggered | AttemptFailed):
                await self._start_routing()
            elif isinstance(payload, RoutingStarted):
                await self._select_route(payload.attempt)
            elif isinstance(payload, RouteSelected):
                await self._build(payload.attempt)
            elif isinstance(payload, TransactionBuilt):
                await self._submit(payload.attempt)
            elif isinstance(payload, TransactionSubmitted):
                await self._confirm(payload)
            else:
                return  # not an execution step (a limit order resting): not ours to move

    async def _start_routing(self) -> None:
        attempt = self._state.attempts + 1
        first = attempt == self._state.attempt_base + 1  # of this trigger
        if first and self._ctx.limiter.enabled:
            # Do not spend a token on an order someone else already started.
            actual = await order_sequence(self._ctx.redis, self._ctx.keys, self._order_id)
            if actual != self._state.sequence:
                raise ConcurrencyError(self._order_id, self._state.sequence, actual)
            self._ctx.stats.throttled_seconds += await self._ctx.limiter.acquire()
        await self._append(RoutingStarted(attempt=attempt))
        if first:
            self._ctx.stats.started += 1

    async def _select_route(self, attempt: int) -> None:
        s = self._state
        selected = await self._ctx.router.route(
            self._order_id, attempt, s.token_in, s.token_out, s.amount_in, s.slippage
        )
        if s.limit_price is not None:
            selected = at_limit(self._order_id, selected, s.amount_in, s.limit_price, s.token_out)
        steps = transaction_steps(
            selected.chosen, s.token_in, s.token_out, s.amount_in, selected.min_amount_out
        )
        await self._append(selected, TransactionBuilt(attempt=attempt, steps=steps))

    async def _build(self, attempt: int) -> None:
        s = self._state
        assert s.route is not None
        assert s.min_amount_out is not None
        steps = transaction_steps(s.route, s.token_in, s.token_out, s.amount_in, s.min_amount_out)
        await self._append(TransactionBuilt(attempt=attempt, steps=steps))

    async def _submit(self, attempt: int) -> None:
        age = datetime.now(UTC) - self._history[-1].occurred_at
        if age.total_seconds() * 1000 > self._ctx.settings.venue_quote_ttl_ms:
            message = f"the route is {age.total_seconds():.1f} s old; quoting again"
            raise ExecutionError(self._order_id, ErrorCode.QUOTE_EXPIRED, message)
        tx_hash = transaction_hash(self._order_id, attempt)
        await self._append(TransactionSubmitted(attempt=attempt, tx_hash=tx_hash))

    async def _confirm(self, submitted: TransactionSubmitted) -> None:
        s = self._state
        assert s.route is not None
        assert s.min_amount_out is not None
        kind, legs = plan_from_quote(s.route)
        fill = await self._ctx.venues.submit(
            self._order_id,
            submitted.attempt,
            kind,
            legs,
            to_units(s.min_amount_out, s.token_out),
            submitted.tx_hash,
            self._turn,
        )
        await self._append(
            OrderConfirmed(
                attempt=submitted.attempt,
                tx_hash=submitted.tx_hash,
                venue=fill.venue,
                amount_out=to_amount(fill.amount_out, s.token_out),
                executed_price=fill.executed_price(),
                fee=fill.fee,
                price_impact=fill.price_impact,
            )
        )
        self._ctx.stats.confirmed += 1
        self._log(
            logging.INFO,
            "order confirmed on %s: %s %s out",
            fill.venue,
            to_amount(fill.amount_out, s.token_out),
            s.token_out,
        )

    async def _record_attempt_failed(self, retry_state: RetryCallState) -> None:
        assert retry_state.outcome is not None
        error = retry_state.outcome.exception()
        assert isinstance(error, ExecutionError)
        delay_ms = round(retry_state.upcoming_sleep * 1000)
        await self._append(
            AttemptFailed(
                attempt=self._state.attempts,
                error_code=error.code,
                error_message=error.message,
                retry_delay_ms=delay_ms,
            )
        )
        self._ctx.stats.attempts_failed += 1
        self._log(
            logging.WARNING,
            "attempt %d failed: %s; retrying in %d ms",
            self._state.attempts,
            error.code,
            delay_ms,
        )

    async def _fail(self, error: ExecutionError) -> None:
        await self._append(
            OrderFailed(
                attempts=self._state.attempts, error_code=error.code, error_message=error.message
            )
        )
        self._ctx.stats.failed += 1
        self._log(
            logging.WARNING,
            "order failed after %d attempts: %s: %s",
            self._state.attempts,
            error.code,
            error.message,
        )

    async def _wait_for_retry(self, failed: Event[Payload]) -> None:
        assert isinstance(failed.payload, AttemptFailed)
        elapsed = (datetime.now(UTC) - failed.occurred_at).total_seconds()
        remaining = failed.payload.retry_delay_ms / 1000 - elapsed
        if remaining > 0:
            await asyncio.sleep(remaining)  # the back-off the failed attempt announced

    async def _append(self, *payloads: Payload) -> None:
        sequence = self._state.sequence
        events: list[Event[Payload]] = []
        cause = self._history[-1].event_id
        for offset, payload in enumerate(payloads, start=1):
            event = new_event(
                payload,
                order_id=self._order_id,
                sequence=sequence + offset,
                correlation_id=self._state.correlation_id,
                causation_id=cause,
            )
            events.append(event)
            cause = event.event_id
        positions = await self._ctx.appender.append(events, expected_sequence=sequence)
        for event in events:
            self._state = apply(self._state, event)
            self._history.append(event)
        self._position = positions[-1]
        self._log(logging.DEBUG, "appended %s", ", ".join(e.type for e in events))

    async def _reload(self) -> None:
        history = await read_order(
            self._ctx.redis, self._ctx.keys, self._order_id, self._ctx.archive
        )
        self._history = [recorded.event for recorded in history]
        self._state = _fold(self._history)
        self._position = history[-1].position
        self._ctx.stats.resumed += 1
        self._log(logging.INFO, "resuming from %s (%s)", self._history[-1].type, self._state.status)

    def _log(self, level: int, message: str, *args: object) -> None:
        last = self._history[-1].event_id
        log_order(logger, level, self._order_id, last, self._position, message, *args)


def _fold(history: list[Event[Payload]]) -> OrderState:
    state = fold(history)
    assert state is not None
    return state
