"""The turn batcher: requests made together share a batch; each caller gets its own result;
a caller that stopped waiting is not asked for."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from eventlog.batching import TurnBatcher


async def test_requests_of_one_turn_share_a_batch_and_each_gets_its_own_result() -> None:
    batches: list[list[int]] = []

    async def double(requests: Sequence[int]) -> list[int]:
        batches.append(list(requests))
        return [2 * r for r in requests]

    batcher: TurnBatcher[int, int] = TurnBatcher(double)
    assert await asyncio.gather(*(batcher.submit(n) for n in (1, 2, 3))) == [2, 4, 6]
    assert batches == [[1, 2, 3]]


async def test_a_caller_that_gave_up_while_a_batch_was_on_its_way_is_not_asked_for() -> None:
    batches: list[list[str]] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_echo(requests: Sequence[str]) -> list[str]:
        batches.append(list(requests))
        started.set()
        await release.wait()
        return list(requests)

    batcher: TurnBatcher[str, str] = TurnBatcher(slow_echo)
    first = asyncio.create_task(batcher.submit("first"))
    await started.wait()  # the first batch is on its way
    gave_up = asyncio.create_task(batcher.submit("gave up"))
    kept = asyncio.create_task(batcher.submit("kept"))
    await asyncio.sleep(0)  # deliberate: both are waiting behind the first batch
    gave_up.cancel()
    release.set()
    assert await first == "first"
    assert await kept == "kept"
    assert gave_up.cancelled()
    assert batches == [["first"], ["kept"]]
