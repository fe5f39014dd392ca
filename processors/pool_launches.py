"""A pool launch as the execution group applies it: the new token listed, the pool opened, and the
sniper orders waiting for it filled in the order they were placed. Idempotent: a redelivered
launch opens nothing twice and triggers no order twice."""

from __future__ import annotations

from eventlog.token_listings import save_listing
from processors.initial_market import launched_pool
from processors.processor_resources import ExecutionContext
from processors.trigger_engine import TriggerEngine
from schema.events import PoolLaunched
from schema.tokens import Token


async def open_launched_pool(
    context: ExecutionContext, triggers: TriggerEngine, launched: PoolLaunched
) -> None:
    token = Token(launched.token_b, launched.mint_b, launched.decimals_b)
    await save_listing(context.redis, context.keys, token)
    pool = launched_pool(launched)
    await context.market.launch(pool)
    for token_in, token_out in ((pool.token_a, pool.token_b), (pool.token_b, pool.token_a)):
        await triggers.evaluate_snipers(token_in, token_out)
