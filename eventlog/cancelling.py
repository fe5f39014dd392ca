"""Stopping a task that reads from Redis: redis-py can swallow a cancellation that lands in a
blocking read (redis-py#2028), and the task then runs on. `cancel_until_done` cancels again until
the task has really ended.
"""

from __future__ import annotations

import asyncio
from typing import Any

RECANCEL_AFTER_S = 0.5


async def cancel_until_done(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait for it to end, cancelling again while it runs on; never raises
    the task's own outcome. Cancelled itself meanwhile, it still waits for the task to end, then
    raises CancelledError: a caller that returns has nothing left running."""
    cancelled = False
    while not task.done():
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=RECANCEL_AFTER_S)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
