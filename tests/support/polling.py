"""Waiting for asynchronous work without sleeping blindly: poll a condition until a deadline."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    condition: Callable[[], Awaitable[T | None]], *, within: float = ..., what: str = ...
) -> T: ...


@overload
async def eventually(
    condition: Callable[[], T | None], *, within: float = ..., what: str = ...
) -> T: ...


async def eventually(
    condition: Callable[[], object], *, within: float = 10.0, what: str = "condition"
) -> object:
    """Poll `condition` (sync or async) until it returns something truthy, and return that (so
    never None); fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s (last value {result!r})")
        await asyncio.sleep(0.01)  # deliberate: yields to the tasks being waited for
