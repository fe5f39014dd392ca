"""One socket's subscription to the log relay (`api.relay`): a bounded buffer of the messages
waiting to be sent to it, which the relay fills and the socket's sender drains."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable

from api.stream_messages import Closing, Outgoing


class Subscription:
    """One socket's view of the relay: a bounded buffer of messages waiting to be sent."""

    __slots__ = ("_items", "_limit", "_waiter", "client", "on_close", "order_id")

    def __init__(
        self,
        order_id: uuid.UUID | None,
        limit: int,
        on_close: Callable[[Closing], None],
        client: str | None = None,
    ) -> None:
        self.order_id = order_id
        self.client = client  # on the global stream: only this client's orders (None: all)
        self.on_close = on_close
        self._items: deque[Outgoing] = deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, message: Outgoing) -> bool:
        """Buffer `message`; False (and nothing buffered) when the buffer is full."""
        if len(self._items) >= self._limit:
            return False
        self._items.append(message)
        self._wake()
        return True

    async def take(self, within: float | None = None) -> Outgoing | None:
        """The oldest buffered message, waiting for one if need be; None when nothing came within
        `within` seconds (a timer is armed only when the buffer is empty: not on the hot path)."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while not self._items:
            timer: asyncio.TimerHandle | None = None
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                timer = loop.call_later(remaining, self._wake)
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return self._items.popleft()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
