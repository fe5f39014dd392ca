"""Building a swap transaction: its steps (wSOL wrap and unwrap included) and its signature.

The tx hash is a function of (order, attempt) alone, so a re-submission presents the same one."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

from schema.events import Quote
from schema.tokens import NATIVE_SOL, base58

COMPUTE_UNITS_PER_LEG = 120_000


def transaction_hash(order_id: uuid.UUID, attempt: int) -> str:
    """A Solana-style signature: base58 of 64 bytes derived from (order, attempt)."""
    return base58(hashlib.sha512(f"{order_id}:{attempt}".encode()).digest())


def transaction_steps(
    route: Quote, token_in: str, token_out: str, amount_in: Decimal, min_amount_out: Decimal
) -> tuple[str, ...]:
    """The instructions of the swap transaction, in order."""
    steps = [f"set compute budget: {COMPUTE_UNITS_PER_LEG * len(route.legs)} units"]
    if token_in == NATIVE_SOL:
        steps += ["create wSOL token account", f"wrap {amount_in} SOL into wSOL"]
    if token_out == NATIVE_SOL:
        steps.append("create wSOL token account for the proceeds")
    else:
        steps.append(f"create {token_out} associated token account if missing")
    for index, leg in enumerate(route.legs):
        chained = route.route == "two-hop" and index > 0
        sold = f"the {leg['token_in']} bought by leg {index}" if chained else leg["amount_in"]
        if not chained:
            sold += f" {leg['token_in']}"
        steps.append(f"swap on {leg['venue']} {leg['pool']}: sell {sold} for {leg['token_out']}")
    steps.append(f"require at least {min_amount_out} {token_out} out (else SLIPPAGE_EXCEEDED)")
    if token_out == NATIVE_SOL:
        steps.append("unwrap wSOL into SOL and close the wSOL account")
    if token_in == NATIVE_SOL:
        steps.append("close the wSOL token account (rent back to the owner)")
    return tuple(steps)
