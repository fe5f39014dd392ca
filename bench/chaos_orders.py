"""Placing orders the way a careful client does while the engine is being hurt: each with an
Idempotency-Key of its own, sent again with the same key (after a short wait) on a 503, a 5xx or
a lost connection until it is answered 202; any other answer is a rejection and is kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

# Amounts small next to the seeded pools, so that prices hold over thousands of orders.
SHAPES = (
    ("SOL", "USDC", "0.5"),
    ("USDC", "SOL", "80"),
    ("BONK", "JUP", "20000"),
    ("USDT", "SOL", "60"),
    ("JUP", "RAY", "25"),
)
RETRY_WAIT_S = 0.1
GIVE_UP_AFTER_S = 120.0
TERMINAL_STATUSES = frozenset({"confirmed", "failed", "cancelled", "expired"})


@dataclass
class Placements:
    """What the client sent and what it was told."""

    accepted: dict[str, str] = field(default_factory=dict)  # order id -> Idempotency-Key
    retried: int = 0  # orders accepted only after more than one attempt
    replayed: int = 0  # orders whose 202 said the first attempt had been accepted already
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # key, status, body
    gave_up: list[str] = field(default_factory=list)  # not accepted within GIVE_UP_AFTER_S


def order_body(n: int) -> dict[str, Any]:
    token_in, token_out, amount = SHAPES[n % len(SHAPES)]
    return {
        "orderType": "market",
        "tokenIn": token_in,
        "tokenOut": token_out,
        "amountIn": amount,
        "slippage": "0.05",
    }


async def place(client: httpx.AsyncClient, placements: Placements, n: int, key: str) -> str | None:
    """Place order `n` under `key` until it is accepted (its id), rejected or given up on (None)."""
    attempts = 0
    deadline = time.monotonic() + GIVE_UP_AFTER_S
    body = order_body(n)
    while True:
        attempts += 1
        try:
            answer = await client.post(
                "/api/orders/execute", json=body, headers={"Idempotency-Key": key}
            )
        except httpx.TransportError:
            status = None
        else:
            status = answer.status_code
            if status == 202:
                order_id = str(answer.json()["orderId"])
                placements.accepted[order_id] = key
                placements.retried += attempts > 1
                placements.replayed += bool(answer.json().get("replayed"))
                return order_id
            if status < 500:
                placements.rejected.append((key, status, answer.text[:300]))
                return None
        if time.monotonic() > deadline:
            placements.gave_up.append(key)
            return None
        await asyncio.sleep(RETRY_WAIT_S)  # deliberate: a client's pause before trying again


async def place_steadily(
    client: httpx.AsyncClient, placements: Placements, rate: float, stop: asyncio.Event
) -> int:
    """One new order every 1/rate s until `stop`; waits for every placement begun to be answered.
    Returns how many were begun."""
    begun: set[asyncio.Task[str | None]] = set()
    started = time.monotonic()
    n = 0
    while not stop.is_set():
        task = asyncio.create_task(place(client, placements, n, f"chaos-{uuid.uuid4().hex}"))
        begun.add(task)
        task.add_done_callback(begun.discard)
        n += 1
        next_at = started + n / rate
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
    if begun:
        await asyncio.gather(*begun)
    return n


async def order_status(client: httpx.AsyncClient, order_id: str) -> str | None:
    """The order's status as the API tells it (None: not answered, or not known yet)."""
    try:
        answer = await client.get(f"/api/orders/{order_id}")
    except httpx.TransportError:
        return None
    if answer.status_code != 200:
        return None
    status: str = answer.json()["order"]["status"]
    return status
