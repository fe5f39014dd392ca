"""The order in which one processor's sniper orders land: that of their triggers in the log (the
order they were placed, for orders sharing a launch). Each execution takes a turn when it starts,
waits for it just before its swap lands, and gives it up after the swap, or when it ends without
one; routing and building still run side by side."""

from __future__ import annotations

import asyncio
from collections import deque


class Turn:
    def __init__(self, queue: LandingOrder) -> None:
        self._queue = queue
        self._ready = asyncio.Event()
        self._left = False

    async def wait(self) -> None:
        """Until every turn taken before this one has been given up."""
        await self._ready.wait()

    def release(self) -> None:
        """Give the turn up (again: nothing happens)."""
        if not self._left:
            self._left = True
            self._queue.leave(self)


class LandingOrder:
    def __init__(self) -> None:
        self._turns: deque[Turn] = deque()

    def take(self) -> Turn:
        turn = Turn(self)
        self._turns.append(turn)
        if len(self._turns) == 1:
            turn._ready.set()
        return turn

    def leave(self, turn: Turn) -> None:
        was_first = self._turns[0] is turn
        self._turns.remove(turn)
        if was_first and self._turns:
            self._turns[0]._ready.set()
