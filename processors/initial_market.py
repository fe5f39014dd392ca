"""The simulated market's starting point: venues, pools, depths and prices, derived from a seed.

The same seed always gives the same pools; venues start a little apart (about ±1.5 %).
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal

from processors.pools import Pool, to_units
from schema.events import PoolLaunched
from schema.tokens import get_token
from schema.venues import METEORA, RAYDIUM, VENUES

__all__ = ["METEORA", "RAYDIUM", "VENUES"]

RAYDIUM_FEE = 0.0025
METEORA_BASE_FEE = 0.002
METEORA_STABLE_FEE = 0.0001
METEORA_DYNAMIC_FEE = 0.5  # share of the volatility accumulator charged on top of the base fee

# Reference prices in USD, roughly early 2025.
USD_PRICES: dict[str, Decimal] = {
    "SOL": Decimal("150"),
    "USDC": Decimal("1"),
    "USDT": Decimal("0.9998"),
    "BONK": Decimal("0.000021"),
    "JUP": Decimal("0.80"),
    "RAY": Decimal("2.40"),
}

# Total value locked per pool, in USD. RAY trades on Raydium only.
RAYDIUM_DEPTHS: dict[str, Decimal] = {
    "SOL/USDC": Decimal(12_000_000),
    "SOL/USDT": Decimal(3_000_000),
    "USDC/USDT": Decimal(4_000_000),
    "SOL/BONK": Decimal(1_200_000),
    "SOL/JUP": Decimal(1_500_000),
    "SOL/RAY": Decimal(1_000_000),
}
# Meteora: less capital, concentrated in a price range (± this fraction around the start price).
METEORA_DEPTHS: dict[str, tuple[Decimal, float]] = {
    "SOL/USDC": (Decimal(3_000_000), 0.10),
    "SOL/USDT": (Decimal(1_000_000), 0.10),
    "USDC/USDT": (Decimal(1_000_000), 0.005),
    "SOL/BONK": (Decimal(500_000), 0.15),
    "SOL/JUP": (Decimal(600_000), 0.12),
}

POOL_PAIRS: dict[str, tuple[str, ...]] = {
    RAYDIUM: tuple(RAYDIUM_DEPTHS),
    METEORA: tuple(METEORA_DEPTHS),
}


def pool_pair(token_x: str, token_y: str, venue: str) -> str | None:
    """The pair name under which `venue` trades these two tokens, if it does."""
    for pair in (f"{token_x}/{token_y}", f"{token_y}/{token_x}"):
        if pair in POOL_PAIRS.get(venue, ()):
            return pair
    return None


def constant_product(
    venue: str, pair: str, amount_a: Decimal, amount_b: Decimal, *, fee: float = RAYDIUM_FEE
) -> Pool:
    """A constant-product pool holding `amount_a` and `amount_b` whole tokens."""
    token_a, token_b = pair.split("/")
    return Pool(
        venue=venue,
        pair=pair,
        kind="constant-product",
        reserve_a=to_units(amount_a, token_a),
        reserve_b=to_units(amount_b, token_b),
        fee=fee,
    )


def concentrated(
    venue: str,
    pair: str,
    price: Decimal,
    value_b: Decimal,
    width: float,
    *,
    fee: float = METEORA_BASE_FEE,
    dynamic_fee: float = METEORA_DYNAMIC_FEE,
) -> Pool:
    """Liquidity worth `value_b` (in token b) between price/(1+width) and price*(1+width), at
    `price` token b per token a."""
    token_a, token_b = (get_token(symbol) for symbol in pair.split("/"))
    p = float(price) * 10.0 ** (token_b.decimals - token_a.decimals)  # b units per a unit
    low, high = p / (1 + width), p * (1 + width)
    value = float(value_b) * 10.0**token_b.decimals
    liquidity = value / (2 * math.sqrt(p) - p / math.sqrt(high) - math.sqrt(low))
    return Pool(
        venue=venue,
        pair=pair,
        kind="concentrated",
        reserve_a=math.floor(liquidity * (1 / math.sqrt(p) - 1 / math.sqrt(high))),
        reserve_b=math.floor(liquidity * (math.sqrt(p) - math.sqrt(low))),
        offset_a=math.floor(liquidity / math.sqrt(high)),
        offset_b=math.floor(liquidity * math.sqrt(low)),
        fee=fee,
        dynamic_fee=dynamic_fee,
    )


def initial_pools(seed: int) -> list[Pool]:
    """Every venue's pools at the start of a market seeded with `seed`."""
    pools: list[Pool] = []
    for pair, depth in RAYDIUM_DEPTHS.items():
        price = _start_price(seed, RAYDIUM, pair)
        token_a, token_b = pair.split("/")
        half = depth / 2
        pools.append(
            constant_product(
                RAYDIUM, pair, half / USD_PRICES[token_a], half / USD_PRICES[token_a] * price
            )
        )
    for pair, (depth, width) in METEORA_DEPTHS.items():
        price = _start_price(seed, METEORA, pair)
        token_b = pair.split("/")[1]
        stable = pair == "USDC/USDT"
        pools.append(
            concentrated(
                METEORA,
                pair,
                price,
                depth / USD_PRICES[token_b],
                width,
                fee=METEORA_STABLE_FEE if stable else METEORA_BASE_FEE,
            )
        )
    return pools


def _start_price(seed: int, venue: str, pair: str) -> Decimal:
    """The reference price of `pair`, moved by a seeded offset (±1.5 %, ±0.1 % for stables)."""
    token_a, token_b = pair.split("/")
    reference = USD_PRICES[token_a] / USD_PRICES[token_b]
    digest = hashlib.sha256(f"{seed}:{venue}:{pair}".encode()).digest()
    unit = Decimal(int.from_bytes(digest[:8], "big")) / Decimal(2**64)
    spread = Decimal("0.002") if pair == "USDC/USDT" else Decimal("0.03")
    return reference * (1 + (unit - Decimal("0.5")) * spread)


def launched_pool(launched: PoolLaunched) -> Pool:
    """The pool a launch opens: constant product at the venue's base fee, holding the reserves
    the launch gave (its tokens must be listed)."""
    fee = RAYDIUM_FEE if launched.venue == RAYDIUM else METEORA_BASE_FEE
    pair = f"{launched.token_a}/{launched.token_b}"
    return constant_product(launched.venue, pair, launched.reserve_a, launched.reserve_b, fee=fee)
