"""Waits after failures in a row, and in-place retries while a store is unreachable: tenacity's
exponential wait, doubling from a base up to a ceiling, reset by a success."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    before_sleep_log,
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
) -> AsyncRetrying:
    """Retry in place while `errors` are raised, until `give_up()` says the caller is stopping
    (then the last error is raised)."""
    return AsyncRetrying(
        retry=retry_if_exception_type(errors),
        wait=wait_exponential(multiplier=base_s, max=MAX_WAIT_S),
        stop=lambda _: give_up(),
        before_sleep=before_sleep_log(logger, logging.WARNING),
        reraise=True,
    )
