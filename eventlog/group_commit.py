"""Group commit: appends requested in the same event-loop turn (orders in flight in a processor,
requests in an API process) go to Redis in one script call, while every append keeps its own
expected-sequence check (ConcurrencyError), claim and result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventlog.append import AppendRequest, AppendResult, Claim, ClaimTaken, EventAppender
from eventlog.batching import TurnBatcher
from eventlog.store_errors import REDIS_UNREACHABLE
from schema.events import Event


class GroupCommitAppender:
    def __init__(self, appender: EventAppender) -> None:
        self._appender = appender
        self._batcher: TurnBatcher[AppendRequest, AppendResult | Exception] = TurnBatcher(
            self._append_batch
        )

    async def append(self, events: Sequence[Event[Any]], *, expected_sequence: int) -> list[str]:
        """Append one order's events after `expected_sequence`; returns their positions.

        Raises ConcurrencyError when the order is not at `expected_sequence`."""
        result = await self.append_claimed(events, expected_sequence=expected_sequence)
        assert isinstance(result, list)  # no claim was asked for
        return result

    async def append_claimed(
        self, events: Sequence[Event[Any]], *, expected_sequence: int, claim: Claim | None = None
    ) -> list[str] | ClaimTaken:
        """As `append`, conditional on `claim` (see eventlog.append.Claim)."""
        result = await self._batcher.submit(AppendRequest(events, expected_sequence, claim))
        if isinstance(result, Exception):
            raise result
        return result

    async def _append_batch(
        self, requests: Sequence[AppendRequest]
    ) -> Sequence[AppendResult | Exception]:
        try:
            return await self._appender.append_many(requests)
        except REDIS_UNREACHABLE:
            raise
        except Exception:
            if len(requests) == 1:
                raise
        # One request the log refuses must not fail the orders batched with it: one by one.
        results: list[AppendResult | Exception] = []
        for request in requests:
            try:
                results += await self._appender.append_many([request])
            except REDIS_UNREACHABLE:
                raise
            except Exception as exc:
                results.append(exc)
        return results
