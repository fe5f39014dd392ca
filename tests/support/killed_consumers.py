"""Consumers killed mid-handler and started again under the same name, as crashed processes
would be: a handler wrapper that cancels its own task before or after the work at random, and a
loop that restarts every consumer that ended until the work is done."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

KILL_POINTS = ["before", "after", None, None, None, None]


class Kills:
    """Cancels the handler's own task before its work (nothing done) or after it (done, never
    acked: the entries come back), at random; counts how often."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.count = 0

    async def around(self, work: Callable[[], Awaitable[None]]) -> None:
        kill_at = self._rng.choice(KILL_POINTS)
        if kill_at == "before":
            await self._kill()
        await work()
        if kill_at == "after":
            await self._kill()

    async def _kill(self) -> None:
        self.count += 1
        task = asyncio.current_task()
        assert task is not None  # called from a coroutine, so inside a task
        task.cancel()
        await asyncio.sleep(0)  # deliberate: the cancellation lands here, mid-handler


async def restart_until(
    start: Callable[[str], asyncio.Task[None]],
    names: list[str],
    progress: Callable[[], Awaitable[tuple[bool, str]]],
    stop: asyncio.Event,
    within: float,
) -> None:
    """Run a consumer per name, starting again under its name each one that ends, until
    `progress` says done (else fail after `within` s saying how far it got); then stop them."""
    tasks = {name: start(name) for name in names}
    deadline = time.monotonic() + within
    try:
        while True:
            done, how_far = await progress()
            if done:
                return
            assert time.monotonic() < deadline, how_far
            await asyncio.wait(tasks.values(), timeout=0.05)
            for name, task in list(tasks.items()):
                if task.done():
                    tasks[name] = start(name)  # the same name, as a restarted process would use
    finally:
        stop.set()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
