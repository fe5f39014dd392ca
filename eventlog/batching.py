"""Batching across the orders a processor has in flight: requests made in the same event-loop turn
(and while a batch is on its way) go to Redis together; each caller gets its own result, raised
when it is an exception."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")


class TurnBatcher(Generic[Request, Result]):
    """`run_batch` takes the requests of one batch and returns one result per request, in order."""

    def __init__(
        self, run_batch: Callable[[Sequence[Request]], Awaitable[Sequence[Result]]]
    ) -> None:
        self._run_batch = run_batch
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[Request, asyncio.Future[Result]]] = []
        try:
            await asyncio.sleep(0)  # let the other orders of this turn join the batch
            while self._waiting:
                # Callers that gave up while waiting (timed out, cancelled) are not asked for.
                batch = [
                    (request, future) for request, future in self._waiting if not future.done()
                ]
                self._waiting = []
                if not batch:
                    continue
                try:
                    results = await self._run_batch([request for request, _ in batch])
                except Exception as exc:  # each caller gets the failure, to handle as its own
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        except asyncio.CancelledError:
            for _, future in batch + self._waiting:
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._flusher = None
