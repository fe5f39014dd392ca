"""Stopping a task that swallows a cancellation, as redis-py can in a blocking read."""

from __future__ import annotations

import asyncio

import pytest

from eventlog.cancelling import cancel_until_done


async def _stubborn(swallowed: asyncio.Event) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        swallowed.set()  # swallowed: runs on as if nothing happened
    await asyncio.Event().wait()


async def test_a_task_that_swallows_the_first_cancellation_is_ended_all_the_same() -> None:
    swallowed = asyncio.Event()
    task = asyncio.create_task(_stubborn(swallowed))
    await asyncio.sleep(0)  # deliberate: let the task reach its first await
    await cancel_until_done(task)
    assert swallowed.is_set()
    assert task.cancelled()


async def test_cancelled_while_it_waits_it_still_ends_the_task_before_raising() -> None:
    swallowed = asyncio.Event()
    task = asyncio.create_task(_stubborn(swallowed))
    await asyncio.sleep(0)  # deliberate: let the task reach its first await
    stopper = asyncio.create_task(cancel_until_done(task))
    await swallowed.wait()
    stopper.cancel()  # its own caller gives up meanwhile
    with pytest.raises(asyncio.CancelledError):
        await stopper
    assert task.done()
