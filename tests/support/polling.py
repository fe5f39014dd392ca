"""Waiting for asynchronous work without sleeping blindly: poll a condition until a deadline."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    condition: Callable[[], T | Awaitable[T]], *, within: float = 10.0, what: str = "condition"
) -> T:
    """Poll `condition` (sync or async) until it returns something truthy; fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s (last value {result!r})")
        await asyncio.sleep(0.01)  # deliberate: yields to the tasks being waited for
