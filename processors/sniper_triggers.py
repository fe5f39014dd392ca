"""What triggering launched sniper orders appends: which waiting orders a launch serves, and
each one's steps, built once per order shape (the same tokens, amount and slippage route the
same on one snapshot). With no execution limit to wait for, a step list goes all the way to
`TransactionSubmitted`, routed on the pools the launch opened: the race is to the venue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from processors.errors import ExecutionError
from processors.initial_market import VENUES
from processors.limit_prices import full_size_out
from processors.market import PoolId
from processors.pools import Pool, to_amount, to_units
from processors.resting_book import RestingOrder
from processors.route_choice import find_pool, route_selected
from processors.transactions import transaction_hash, transaction_steps
from schema.events import (
    OrderTriggered,
    Payload,
    RoutingStarted,
    TransactionBuilt,
    TransactionSubmitted,
)


def served(pools: Mapping[PoolId, Pool], orders: Sequence[RestingOrder]) -> list[RestingOrder]:
    """The sniper orders (in the order given) for which a venue has a pool of their pair holding
    at least their minLiquidity of tokenIn."""
    ready = []
    for order in orders:
        held = [
            pool.reserve_a if order.token_in == pool.token_a else pool.reserve_b
            for venue in VENUES
            if (pool := find_pool(pools, venue, order.token_in, order.token_out)) is not None
        ]
        least = 0 if order.min_liquidity is None else to_units(order.min_liquidity, order.token_in)
        if held and max(held) >= least:
            ready.append(order)
    return ready


class SniperSteps:
    def __init__(self, pools: Mapping[PoolId, Pool], *, to_submission: bool) -> None:
        self._pools = pools
        self._to_submission = to_submission
        self._shapes: dict[tuple[str, str, Decimal, Decimal], list[Payload]] = {}
        self.submitted = 0

    def steps(self, order: RestingOrder) -> list[Payload]:
        shape = (order.token_in, order.token_out, order.amount_in, order.slippage)
        shared = self._shapes.get(shape)
        if shared is None:
            shared = self._shapes[shape] = self._shape(order)
        if len(shared) == 1:
            return shared
        self.submitted += 1
        tx_hash = transaction_hash(order.order_id, 1)
        return [*shared, TransactionSubmitted(attempt=1, tx_hash=tx_hash)]

    def _shape(self, order: RestingOrder) -> list[Payload]:
        ti, to, amount = order.token_in, order.token_out, order.amount_in
        if self._to_submission:
            try:
                selected = route_selected(
                    order.order_id, 1, self._pools, ti, to, amount, order.slippage
                )
            except ExecutionError:
                pass  # the execution meets the error and records it
            else:
                steps = transaction_steps(selected.chosen, ti, to, amount, selected.min_amount_out)
                return [
                    OrderTriggered(limit_price=None, market_out=selected.expected_out),
                    RoutingStarted(attempt=1),
                    selected,
                    TransactionBuilt(attempt=1, steps=steps),
                ]
        out = full_size_out(self._pools, ti, to, amount) or 0
        return [OrderTriggered(limit_price=None, market_out=to_amount(out, to))]
