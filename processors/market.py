"""The simulated market in Redis: every venue's pools, shared by all processor processes.

Seeding is idempotent (existing pools are kept); swaps, voids and drift are atomic Lua scripts."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from eventlog.batching import TurnBatcher
from eventlog.keys import Keys
from eventlog.script_calls import ScriptCall, call_each
from eventlog.settings import Settings
from eventlog.token_listings import TokenListings
from processors.initial_market import POOL_PAIRS, USD_PRICES, initial_pools
from processors.market_scripts import DRIFT_LUA, LAUNCH_LUA, SEED_LUA, SWAP_LUA, VOID_LUA
from processors.pools import Pool
from processors.route_fills import PlannedLeg, RouteKind
from schema.tokens import get_token

logger = logging.getLogger(__name__)

# How long a submission record is kept: resuming an order later than this could fill it again.
SUBMISSION_TTL_SECONDS = 7 * 24 * 3600
# How far a pool's price is pulled back toward its anchor per drift step (arbitrage, in effect).
DRIFT_PULL = 0.02
DRIFT_MAX_CATCH_UP_STEPS = 300

PoolId = tuple[str, str]  # (venue, pair)


class UnknownPoolError(KeyError):
    def __init__(self, venue: str, pair: str) -> None:
        super().__init__(f"{venue} has no {pair} pool; known: {', '.join(POOL_PAIRS[venue])}")
        self.venue = venue
        self.pair = pair


class Market:
    def __init__(self, redis: aioredis.Redis, keys: Keys, settings: Settings) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._seed_script = redis.register_script(SEED_LUA)
        self._swap_script = redis.register_script(SWAP_LUA)
        self._void_script = redis.register_script(VOID_LUA)
        self._drift_script = redis.register_script(DRIFT_LUA)
        self._launch_script = redis.register_script(LAUNCH_LUA)
        self._launched: set[PoolId] = set()  # pools launched since the seed, as last read
        self.listings = TokenListings(redis, keys)
        self._snapshots: TurnBatcher[None, dict[PoolId, Pool]] = TurnBatcher(self._read_all)
        self._swaps: TurnBatcher[tuple[list[str], list[Any]], Any] = TurnBatcher(self._swap_all)

    def pool_key(self, venue: str, pair: str) -> str:
        return self._keys.pool(venue, pair)

    def all_pool_ids(self) -> list[PoolId]:
        """The seeded pools, then those launched since (as of the last snapshot)."""
        seeded = [(venue, pair) for venue, pairs in POOL_PAIRS.items() for pair in pairs]
        return seeded + sorted(self._launched)

    async def launch(self, pool: Pool) -> bool:
        """Open a launched pool; False (and nothing changes) when its venue has the pair already,
        named either way round."""
        reverse = f"{pool.token_b}/{pool.token_a}"
        fields = [item for pair in pool.to_fields().items() for item in pair]
        opened = await self._launch_script(
            keys=[
                self.pool_key(pool.venue, pool.pair),
                self.pool_key(pool.venue, reverse),
                self._keys.launched_pools,
            ],
            args=[f"{pool.venue}|{pool.pair}", *fields],
        )
        self._launched.add((pool.venue, pool.pair))
        return bool(opened)

    async def seed(self) -> int:
        """Create the market's pools unless the market exists; returns how many were created."""
        pools = initial_pools(self._settings.venue_seed)
        keys = [self._keys.venue_state] + [self.pool_key(p.venue, p.pair) for p in pools]
        args: list[Any] = [self._settings.venue_seed]
        for pool in pools:
            fields = [item for pair in pool.to_fields().items() for item in pair]
            args += [len(fields), *fields]
        created = int(await self._seed_script(keys=keys, args=args))
        if created:
            logger.info("seeded %d pools (venue_seed=%s)", created, self._settings.venue_seed)
        return created

    async def pools(self, wanted: Iterable[PoolId]) -> dict[PoolId, Pool]:
        """The current state of the wanted pools that exist. Reads made together share one
        snapshot of every pool (one round trip)."""
        snapshot = await self._snapshots.submit(None)
        return {pool_id: snapshot[pool_id] for pool_id in wanted if pool_id in snapshot}

    async def pool(self, venue: str, pair: str) -> Pool | None:
        return (await self.pools([(venue, pair)])).get((venue, pair))

    async def all_pools(self) -> list[Pool]:
        return list((await self.pools(self.all_pool_ids())).values())

    async def put(self, pool: Pool) -> None:
        """Replace a pool's whole state (tests and tools: set up the market you need)."""
        known = pool.pair in POOL_PAIRS.get(pool.venue, ())
        if not known and (pool.venue, pool.pair) not in self._launched:
            raise UnknownPoolError(pool.venue, pool.pair)
        key = self.pool_key(pool.venue, pool.pair)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=pool.to_fields())  # type: ignore[arg-type]
            await pipe.execute()

    async def remove(self, venue: str, pair: str) -> None:
        """Take a pool off the market (its venue no longer quotes the pair)."""
        await self._redis.delete(self.pool_key(venue, pair))

    async def swap(
        self,
        order_id: uuid.UUID,
        attempt: int,
        kind: RouteKind,
        legs: Sequence[PlannedLeg],
        min_amount_out: int,
        tx_hash: str,
        injected_failure: str | None,
    ) -> dict[str, Any]:
        """Land one submission atomically; the same (order, attempt) always gets the same answer,
        and an order that filled once returns that fill to every later submission."""
        keys = [
            self._keys.submission(order_id),
            self._keys.venue_failures(order_id),
            self._keys.venue_failures(),
            *(self.pool_key(leg.venue, leg.pair) for leg in legs),
        ]
        args: list[Any] = [
            attempt,
            min_amount_out,
            injected_failure or "",
            tx_hash,
            SUBMISSION_TTL_SECONDS,
            kind,
        ]
        for leg in legs:
            args += [leg.token_in, "" if leg.amount_in is None else leg.amount_in]
        result: dict[str, Any] = orjson.loads(await self._swaps.submit((keys, args)))
        return result

    async def void(self, order_id: uuid.UUID) -> dict[str, Any] | None:
        """Make every later submission of the order fail, unless it filled: then return the fill."""
        raw = await self._void_script(
            keys=[self._keys.submission(order_id)], args=[SUBMISSION_TTL_SECONDS]
        )
        if not raw:
            return None
        result: dict[str, Any] = orjson.loads(raw)
        return result

    async def _read_all(self, requests: Sequence[None]) -> list[dict[PoolId, Pool]]:
        ids = self.all_pool_ids()
        pipe = self._redis.pipeline(transaction=False)
        pipe.smembers(self._keys.launched_pools)
        for venue, pair in ids:
            pipe.hgetall(self.pool_key(venue, pair))
        launched, *found = await pipe.execute()
        snapshot = {
            pool_id: Pool.from_fields(fields)
            for pool_id, fields in zip(ids, found, strict=True)
            if fields
        }
        new = {_pool_id(member) for member in launched} - set(ids)
        if new:  # launched since the last snapshot: their tokens may be new here too
            self._launched |= new
            await self.listings.refresh(force=True)
            return await self._read_all(requests)
        return [snapshot] * len(requests)

    async def _swap_all(self, requests: Sequence[ScriptCall]) -> list[Any]:
        return await call_each(self._redis, self._swap_script, requests)

    async def drift(self) -> int:
        """Apply the market's steps due since the last call (by Redis time): the reference
        prices' walk, arbitrage toward them, drift; returns how many. What moved waits in the
        market-moves list for `processors.market_moves` to log."""
        ids = self.all_pool_ids()
        keys = [self._keys.venue_state, *(self.pool_key(v, p) for v, p in ids)]
        args: list[Any] = [
            self._settings.venue_seed,
            repr(self._settings.venue_drift_bps / 10_000),
            repr(DRIFT_PULL),
            self._settings.venue_drift_interval_ms,
            DRIFT_MAX_CATCH_UP_STEPS,
            repr(self._settings.venue_arbitrage_share),
        ]
        for _, pair in ids:
            token_a, token_b = pair.split("/")
            scale = 10.0 ** (get_token(token_b).decimals - get_token(token_a).decimals)
            args += [token_a, token_b, _log_usd(token_a), _log_usd(token_b), repr(scale)]
        steps = await self._drift_script(keys=[*keys, self._keys.market_moves], args=args)
        return int(steps)


def _log_usd(symbol: str) -> str:
    """The natural log of a seeded token's USD reference price ('' for a launched token)."""
    price = USD_PRICES.get(symbol)
    return "" if price is None else repr(math.log(float(price)))


def _pool_id(member: bytes) -> PoolId:
    venue, pair = member.decode().split("|")
    return venue, pair
