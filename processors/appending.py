"""Group commit of the events of many orders in flight: one script call per batch, while every
order's append keeps its own expected-sequence check (ConcurrencyError) and result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventlog.append import AppendRequest, AppendResult, EventAppender
from eventlog.consumer import INFRASTRUCTURE_ERRORS
from processors.batching import TurnBatcher
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
        result = await self._batcher.submit(AppendRequest(events, expected_sequence))
        assert isinstance(result, list)  # errors were raised; no claim was asked for
        return result

    async def _append_batch(
        self, requests: Sequence[AppendRequest]
    ) -> Sequence[AppendResult | Exception]:
        try:
            return await self._appender.append_many(requests)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            if len(requests) == 1:
                raise
        # One request the log refuses must not fail the orders batched with it: one by one.
        results: list[AppendResult | Exception] = []
        for request in requests:
            try:
                results += await self._appender.append_many([request])
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:
                results.append(exc)
        return results
