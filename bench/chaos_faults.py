"""The faults of the chaos run and the time the engine takes to recover from each: from the fault
until the API's /health answers 200 again, until an order placed after the fault has ended
(confirmed or failed, as GET /api/orders/{id} tells, which folds the order from the log while the
read model is behind) and until its row in the `orders` table has ended too (the projector is
back)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg

from bench.aof_redis import AofRedis
from bench.chaos_engine import Engine
from bench.chaos_orders import TERMINAL_STATUSES, Placements, order_status, place

RECOVER_WITHIN_S = 20.0
POLL_S = 0.05

# Fault kind -> what it does to the engine (its Redis server, its parts).
FAULTS: dict[str, Callable[[Engine, AofRedis, int], None]] = {
    "kill_processor": lambda engine, redis, n: engine.kill_and_restart(
        "processor-a" if n % 2 == 0 else "processor-b"
    ),
    "kill_projector": lambda engine, redis, n: engine.kill_and_restart("projector"),
    "kill_api": lambda engine, redis, n: engine.kill_and_restart("api"),
    "restart_redis": lambda engine, redis, n: _restart(redis),
}


def _restart(redis: AofRedis) -> None:
    redis.kill()
    redis.spawn()  # its readiness is part of the recovery measured


@dataclass(frozen=True)
class Recovery:
    kind: str
    healthy_after_s: float | None  # None: not within RECOVER_WITHIN_S
    order_ended_after_s: float | None
    projected_after_s: float | None

    @property
    def recovered(self) -> bool:
        return None not in (self.healthy_after_s, self.order_ended_after_s, self.projected_after_s)


async def _healthy(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/health")).status_code == 200
    except httpx.TransportError:
        return False


async def _row_status(database_url: str, order_id: str) -> str | None:
    try:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            cursor = await conn.execute("SELECT status FROM orders WHERE id = %s", [order_id])
            row = await cursor.fetchone()
    except psycopg.OperationalError:
        return None
    return None if row is None else str(row[0])


async def _until(condition: Callable[[], object], deadline: float) -> bool:
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return True
        await asyncio.sleep(POLL_S)  # deliberate: polling a recovering engine, with a deadline
    return False


async def inject(
    kind: str,
    n: int,
    engine: Engine,
    redis: AofRedis,
    client: httpx.AsyncClient,
    placements: Placements,
    database_url: str,
) -> Recovery:
    """Inject fault `kind` (the `n`th of its kind) and measure the recovery."""
    began = time.monotonic()
    deadline = began + RECOVER_WITHIN_S
    # On the loop's thread, never a worker's: a child's parent-death signal fires when the thread
    # that started it ends.
    FAULTS[kind](engine, redis, n)

    async def ended_after() -> tuple[float | None, float | None]:
        order_id = await place(client, placements, n, f"chaos-probe-{uuid.uuid4().hex}")
        if order_id is None:
            return None, None

        async def ended() -> bool:
            return await order_status(client, order_id) in TERMINAL_STATUSES

        async def projected() -> bool:
            return await _row_status(database_url, order_id) in TERMINAL_STATUSES

        return await asyncio.gather(_after(ended), _after(projected))

    async def _after(condition: Callable[[], object]) -> float | None:
        if await _until(condition, deadline):
            return round(time.monotonic() - began, 3)
        return None

    healthy, (ended, projected) = await asyncio.gather(
        _after(lambda: _healthy(client)), ended_after()
    )
    return Recovery(kind, healthy, ended, projected)
