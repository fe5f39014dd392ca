"""When an order's attempt is tried again: transient errors only, with exponential back-off and
jitter, `MAX_RETRY_ATTEMPTS` attempts in all (per trigger, for a limit order)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from eventlog.settings import Settings
from processors.errors import ExecutionError


def retrying(
    settings: Settings, tried: int, before_sleep: Callable[[RetryCallState], Awaitable[None]]
) -> AsyncRetrying:
    """The attempts left after `tried` were made: the n-th retry waits
    `RETRY_BASE_DELAY_MS * 2^(n-1) + U(0, base/2)`, at most `RETRY_MAX_DELAY_MS`."""
    base = settings.retry_base_delay_ms / 1000
    return AsyncRetrying(
        stop=stop_after_attempt(settings.max_retry_attempts - tried),
        wait=wait_exponential_jitter(
            multiplier=base * 2**tried, max=settings.retry_max_delay_ms / 1000, jitter=base / 2
        ),
        retry=retry_if_exception(lambda exc: isinstance(exc, ExecutionError) and exc.retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
