"""Waits after failures in a row, and in-place retries while a store is unreachable: tenacity's
exponential wait, doubling from a base up to a ceiling, reset by a success."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
)

MAX_WAIT_S = 2.0


class FailureStreak:
    """Consecutive failures of one loop; `wait` sleeps the longer the longer the streak."""

    def __init__(self, base_s: float, max_s: float = MAX_WAIT_S) -> None:
        self._wait = wait_exponential(multiplier=base_s, max=max_s)
        self._state = RetryCallState(AsyncRetrying(), None, (), {})

    async def wait(self) -> None:
        delay = self._wait(self._state)
        self._state.attempt_number += 1
        await asyncio.sleep(delay)

    def reset(self) -> None:
        self._state.attempt_number = 1


def while_unreachable(
    errors: tuple[type[BaseException], ...],
    *,
    base_s: float,
    logger: logging.Logger,
    give_up: Callable[[], bool] = lambda: False,
    what: str = "a store",
) -> AsyncRetrying:
    """Retry in place while `errors` are raised, until `give_up()` says the caller is stopping
    (then the last error is raised)."""
    return AsyncRetrying(
        retry=retry_if_exception_type(errors),
        wait=wait_exponential(multiplier=base_s, max=MAX_WAIT_S),
        stop=lambda _: give_up(),
        before_sleep=retry_line(logger, what),
        reraise=True,
    )


def retry_line(
    logger: logging.Logger, what: str, level: int = logging.WARNING
) -> Callable[[RetryCallState], None]:
    """tenacity's `before_sleep`: one line a retry (a warning unless told), naming `what` is
    waited for."""

    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        logger.log(
            level,
            "%s unreachable (%s: %s); retry %d in %.1f s",
            what,
            type(error).__name__,
            error,
            state.attempt_number,
            delay,
        )

    return log
