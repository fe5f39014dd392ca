"""One market order driven from its last event to a terminal one, retrying transient failures.

Each step appends with the expected sequence: if anyone else wrote (a cancel, another processor),
the order is re-read and resumed from its last event; idempotent submission never fills twice."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from eventlog.append import ConcurrencyError
from eventlog.codec import Recorded
from eventlog.reading import order_sequence, read_order
from processors.errors import ErrorCode, ExecutionError
from processors.pools import to_amount, to_units
from processors.processor_resources import ExecutionContext
from processors.route_fills import plan_from_quote
from processors.transactions import transaction_hash, transaction_steps
from schema.events import (
    AttemptFailed,
    Event,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    Payload,
    RouteSelected,
    RoutingStarted,
    TransactionBuilt,
    TransactionSubmitted,
    new_event,
)
from schema.order_state import OrderState, apply, fold
from schema.statuses import is_terminal

logger = logging.getLogger(__name__)


class OrderExecution:
    def __init__(self, context: ExecutionContext, placed: Recorded) -> None:
        self._ctx = context
        self._order_id = placed.event.order_id
        # Optimistic start: the first append expects sequence 1, which proves the order's history is
        # exactly this OrderPlaced; if it has moved on, the append fails and the history is read.
        self._history: list[Event[Payload]] = [placed.event]
        self._state = _fold(self._history)
        self._position = placed.position

    @property
    def state(self) -> OrderState:
        return self._state

    async def run(self) -> OrderState:
        while True:
            try:
                await self._drive()
                return self._state
            except ConcurrencyError:
                await self._reload()

    async def _drive(self) -> None:
        if is_terminal(self._state.status):
            return
        last = self._history[-1]
        if isinstance(last.payload, AttemptFailed):
            await self._wait_for_retry(last)  # a retry that was due when the last processor died
            first_attempt = last.payload.attempt + 1
        elif isinstance(last.payload, OrderPlaced):
            if last.payload.order_type != "market":
                return
            first_attempt = 1
        else:
            first_attempt = max(1, self._state.attempts)
        limit = self._ctx.settings.max_retry_attempts
        if first_attempt > limit:  # MAX_RETRY_ATTEMPTS was lowered while the order waited
            message = f"no attempt left of {limit}; the last failed with {self._state.error_code}"
            await self._fail(ExecutionError(self._order_id, ErrorCode.PROCESSING_ERROR, message))
            return
        await self._attempts(first_attempt)

    async def _attempts(self, first: int) -> None:
        settings = self._ctx.settings
        base = settings.retry_base_delay_ms / 1000
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.max_retry_attempts - first + 1),
            wait=wait_exponential_jitter(
                multiplier=base * 2 ** (first - 1),
                max=settings.retry_max_delay_ms / 1000,
                jitter=base / 2,
            ),
            retry=retry_if_exception(lambda exc: isinstance(exc, ExecutionError) and exc.retryable),
            before_sleep=self._record_attempt_failed,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._attempt()
        except ExecutionError as exc:
            await self._fail(exc)

    async def _attempt(self) -> None:
        """Move the order from its last event to confirmed, or raise this attempt's error."""
        while not is_terminal(self._state.status):
            payload = self._history[-1].payload
            if isinstance(payload, OrderPlaced | AttemptFailed):
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
        if attempt == 1 and self._ctx.limiter.enabled:
            # Do not spend a token on an order someone else already started.
            actual = await order_sequence(self._ctx.redis, self._ctx.keys, self._order_id)
            if actual != self._state.sequence:
                raise ConcurrencyError(self._order_id, self._state.sequence, actual)
            self._ctx.stats.throttled_seconds += await self._ctx.limiter.acquire()
        await self._append(RoutingStarted(attempt=attempt))
        if attempt == 1:
            self._ctx.stats.started += 1

    async def _select_route(self, attempt: int) -> None:
        s = self._state
        selected = await self._ctx.router.route(
            self._order_id, attempt, s.token_in, s.token_out, s.amount_in, s.slippage
        )
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
        if logger.isEnabledFor(logging.DEBUG):
            self._log(logging.DEBUG, "appended %s", ", ".join(e.type for e in events))

    async def _reload(self) -> None:
        history = await read_order(self._ctx.redis, self._ctx.keys, self._order_id)
        self._history = [recorded.event for recorded in history]
        self._state = _fold(self._history)
        self._position = history[-1].position
        self._ctx.stats.resumed += 1
        self._log(logging.INFO, "resuming from %s (%s)", self._history[-1].type, self._state.status)

    def _log(self, level: int, message: str, *args: object) -> None:
        last = self._history[-1]
        logger.log(
            level,
            "order_id=%s event_id=%s position=%s " + message,
            self._order_id,
            last.event_id,
            self._position,
            *args,
            extra={
                "order_id": str(self._order_id),
                "event_id": str(last.event_id),
                "position": self._position,
            },
        )


def _fold(history: list[Event[Payload]]) -> OrderState:
    state = fold(history)
    assert state is not None
    return state
