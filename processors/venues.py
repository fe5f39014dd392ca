"""The venues as a processor sees them: quotes and submissions with latency and transient failures.

Everything random is a function of (venue_seed, order, attempt): runs are reproducible."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from eventlog.settings import Settings
from processors.errors import ErrorCode, ExecutionError
from processors.landing_order import Turn
from processors.market import Market, PoolId
from processors.pools import LegFill, Pool
from processors.route_fills import PlannedLeg, RouteFill, RouteKind


class Venues:
    def __init__(self, market: Market, settings: Settings) -> None:
        self.market = market
        self._settings = settings

    async def quote_pools(self, wanted: Iterable[PoolId]) -> dict[PoolId, Pool]:
        """The pools a quote is priced on, after the venues' quote latency."""
        if self._settings.venue_quote_latency_ms:
            await asyncio.sleep(self._settings.venue_quote_latency_ms / 1000)
        return await self.market.pools(wanted)

    async def submit(
        self,
        order_id: uuid.UUID,
        attempt: int,
        kind: RouteKind,
        legs: Sequence[PlannedLeg],
        min_amount_out: int,
        tx_hash: str,
        turn: Turn | None = None,
    ) -> RouteFill:
        """Send the transaction, wait for it to land and confirm; idempotent per (order, attempt).
        With a `turn`, it lands only after the swaps of the turns before it, then gives it up.

        Raises ExecutionError with the venue's code when it did not fill."""
        latency = self._swap_latency(order_id, attempt)
        await asyncio.sleep(latency / 2)  # until it lands
        if turn is not None:
            await turn.wait()
        try:
            result = await self.market.swap(
                order_id,
                attempt,
                kind,
                legs,
                min_amount_out,
                tx_hash,
                self._injected_failure(order_id, attempt),
            )
        finally:
            if turn is not None:
                turn.release()
        await asyncio.sleep(latency / 2)  # until the confirmation is seen
        return fill_from_result(order_id, kind, legs, result)

    def _swap_latency(self, order_id: uuid.UUID, attempt: int) -> float:
        low = self._settings.venue_swap_latency_min_ms
        high = max(low, self._settings.venue_swap_latency_max_ms)
        if high == 0:
            return 0.0
        return (low + (high - low) * self._unit(order_id, attempt, "latency")) / 1000

    def _injected_failure(self, order_id: uuid.UUID, attempt: int) -> str | None:
        if self._unit(order_id, attempt, "failure") >= self._settings.venue_failure_rate:
            return None
        if self._unit(order_id, attempt, "code") < 0.7:
            return ErrorCode.TX_FAILED_TO_LAND
        return ErrorCode.RPC_TIMEOUT

    def _unit(self, order_id: uuid.UUID, attempt: int, purpose: str) -> float:
        """A uniform number in [0, 1) fixed by the seed, the order, the attempt and the purpose."""
        text = f"{self._settings.venue_seed}:{order_id}:{attempt}:{purpose}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64


def fill_from_result(
    order_id: uuid.UUID, kind: RouteKind, legs: Sequence[PlannedLeg], result: dict[str, Any]
) -> RouteFill:
    """The route fill a swap script answered, or the ExecutionError it reported."""
    if result["status"] != "filled":
        raise ExecutionError(order_id, result["code"])
    fills = []
    for planned, leg in zip(legs, result["legs"], strict=True):
        token_a, token_b = planned.pair.split("/")
        fills.append(
            LegFill(
                venue=planned.venue,
                pair=planned.pair,
                token_in=planned.token_in,
                token_out=token_b if planned.token_in == token_a else token_a,
                amount_in=int(leg["amount_in"]),
                fee=int(leg["fee"]),
                amount_out=int(leg["amount_out"]),
                ideal_out=int(leg["ideal_out"]),
            )
        )
    return RouteFill(kind, tuple(fills))
