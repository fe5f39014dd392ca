"""The per-process log relay: one XREAD BLOCK loop on the event log fans events out to every socket.

Each event is encoded once and offered to the subscribed sockets in log order, waiting for none of
them; a socket whose bounded buffer is full is dropped and told why, so it never delays the others.
A socket of a client (API keys on, not an operator) on the global stream is offered only the events
of that client's orders: such sockets are kept by client, so the others pay nothing for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_exponential,
)

from api.order_owners import OrderOwners
from api.stream_messages import (
    GOING_AWAY,
    RELAY_FAILED,
    SLOW_CLIENT,
    Closing,
    Outgoing,
    event_message,
)
from api.subscription import Subscription
from eventlog.archive_source import ArchiveSource
from eventlog.cancelling import cancel_until_done
from eventlog.codec import Recorded, UndecodableEntryError, decode
from eventlog.keys import Keys
from eventlog.settings import Settings

logger = logging.getLogger(__name__)

READ_COUNT = 500  # entries per XREAD
BLOCK_MS = 1_000  # how long one XREAD waits; well under redis-py's 5 s default socket timeout
CURRENT_WITHIN_S = 3.0  # a relay whose last read is older than this may be stalled
CATCH_UP_READS = 16  # catch-up reads in flight at once; the rest wait (the Redis pool is shared)


class RelayUnavailableError(RuntimeError):
    """The relay is not reading the log (not started, stopped, or failed)."""


class LogRelay:
    """Reads the log from where it stood at start-up and hands every event to its subscribers."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        settings: Settings,
        archive: ArchiveSource | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._archive = archive  # owners of orders placed before the log's trim point
        self._buffer_size = settings.ws_buffer_size
        # Let healthy senders drain before a burst could fill their buffers.
        self._yield_every = max(1, settings.ws_buffer_size // 2)
        self._all: set[Subscription] = set()
        self._all_of_client: dict[str, set[Subscription]] = {}
        self.owners = OrderOwners()
        self._by_order: dict[uuid.UUID, set[Subscription]] = {}
        self._subscriptions: set[Subscription] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._stopping = False
        self.catch_up_reads = asyncio.Semaphore(CATCH_UP_READS)
        # Sockets sending a page of the whole log at once: each page's CPU is spread over loop
        # turns, and at most this many share them, so a crowd of resuming clients never starves
        # other requests.
        self.catch_up_slots = asyncio.Semaphore(settings.ws_catch_up_slots)
        self.position = "0-0"  # every event up to here has been offered to the subscribers
        self._listeners: list[Callable[[Recorded], None]] = []
        self._read_at = 0.0  # when the last read returned (time.monotonic)

    @property
    def running(self) -> bool:
        """True while the reader follows the log and sockets may subscribe."""
        return self._running

    @property
    def current(self) -> bool:
        """True while the reader follows the log and its last read returned within a few
        seconds (a read returns at least every BLOCK_MS, with entries or without): what it has
        offered is the log's tail, not a stall's."""
        return self._running and time.monotonic() - self._read_at < CURRENT_WITHIN_S

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def listen(self, listener: Callable[[Recorded], None]) -> None:
        """Call `listener` with every event read, in log order, before the sockets are offered it
        (the process's in-memory read models follow the log this way)."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start reading in the background; sockets are refused until the reader has a position
        (so the API starts even while Redis is still coming up)."""
        reader = asyncio.create_task(self._read_forever(), name="log-relay")
        reader.add_done_callback(self._reader_stopped)
        self._tasks = [reader]

    async def stop(self) -> None:
        self._running = False
        self._stopping = True
        for task in self._tasks:
            await cancel_until_done(task)  # the reader also checks `_stopping`
        self._close_all(GOING_AWAY)

    def subscribe(
        self,
        order_id: uuid.UUID | None,
        on_close: Callable[[Closing], None],
        client: str | None = None,
    ) -> Subscription:
        """Follow one order's events (or all events with None; with `client`, all of that client's
        orders) from the relay's current position. Who may follow one order is checked before."""
        if not self._running:
            raise RelayUnavailableError("the log relay is not reading the log")
        subscription = Subscription(order_id, self._buffer_size, on_close, client)
        self._subscriptions.add(subscription)
        if order_id is None and client is not None:
            self._all_of_client.setdefault(client, set()).add(subscription)
        elif order_id is None:
            self._all.add(subscription)
        else:
            self._by_order.setdefault(order_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        if subscription.order_id is None and subscription.client is not None:
            own = self._all_of_client.get(subscription.client)
            if own is not None:
                own.discard(subscription)
                if not own:
                    del self._all_of_client[subscription.client]
            return
        if subscription.order_id is None:
            self._all.discard(subscription)
            return
        followers = self._by_order.get(subscription.order_id)
        if followers is not None:
            followers.discard(subscription)
            if not followers:
                del self._by_order[subscription.order_id]

    async def _read_forever(self) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((RedisConnectionError, RedisTimeoutError)),
            wait=wait_exponential(multiplier=0.1, max=5),
            stop=stop_never,
            before_sleep=_log_reconnect,
            reraise=True,
        )
        self.position = await retrying(self._last_position)
        self._running = True
        logger.info("log relay reading %s after position %s", self._keys.events, self.position)
        while not self._stopping:
            entries: list[tuple[bytes, dict[bytes, bytes]]] = await retrying(self._read)
            # A socket can only subscribe while the reader awaits: between two chunks. Before a
            # chunk reaches clients' sockets, the owners of its orders are known.
            for start in range(0, len(entries), self._yield_every):
                chunk = entries[start : start + self._yield_every]
                if self._all_of_client:
                    await retrying(self._look_up_owners, chunk)
                for position, fields in chunk:
                    self._publish_entry(position, fields)
                if len(chunk) == self._yield_every:
                    await asyncio.sleep(0)

    async def _last_position(self) -> str:
        last: Any = await self._redis.xrevrange(self._keys.events, count=1)
        return str(last[0][0].decode()) if last else "0-0"

    async def _read(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        reply: Any = await self._redis.xread(
            {self._keys.events: self.position}, count=READ_COUNT, block=BLOCK_MS
        )
        self._read_at = time.monotonic()
        return reply[0][1] if reply else []

    async def _look_up_owners(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Read the owners of the orders of `entries` that are neither kept nor placed among them
        (an OrderPlaced comes before the order's other events, and names its owner)."""
        placed_here = {f.get(b"order_id") for _, f in entries if f.get(b"type") == b"OrderPlaced"}
        order_ids = []
        for _, fields in entries:
            raw = fields.get(b"order_id")
            if raw is not None and raw not in placed_here:
                try:
                    order_ids.append(uuid.UUID(raw.decode()))
                except ValueError:
                    continue  # undecodable: skipped when published
        missing = self.owners.missing(order_ids)
        if missing:
            try:
                await self.owners.look_up(self._redis, self._keys, missing, self._archive)
            except psycopg.Error as exc:  # PostgreSQL away: what Redis knows, never a halt
                logger.warning("order owners not read from the archive: %s", exc)
                await self.owners.look_up(self._redis, self._keys, missing)

    def _publish_entry(self, position: bytes, fields: dict[bytes, bytes]) -> None:
        self.position = position.decode()
        try:
            recorded = decode(position, fields)
        except UndecodableEntryError as exc:
            logger.error("relay skips entry at position %s: %s", self.position, exc)
            return
        for listener in self._listeners:
            try:
                listener(recorded)
            except Exception:  # a read model's fault must never stop the relay
                logger.exception("a listener failed on the entry at position %s", self.position)
        if not self._subscriptions:  # no socket: no message to build
            return
        message = event_message(recorded)
        self._offer(self._all, message)
        if self._all_of_client:  # keys on and a client watching: only then are owners needed
            self.owners.learn(recorded.event)
            own = self._all_of_client.get(self.owners.get(recorded.event.order_id) or "")
            if own:
                self._offer(own, message)
        if message.order_id is not None:
            followers = self._by_order.get(message.order_id)
            if followers:
                self._offer(followers, message)

    def _offer(self, subscriptions: set[Subscription], message: Outgoing) -> None:
        overflowed = [s for s in subscriptions if not s.offer(message)]
        for subscription in overflowed:
            logger.warning(
                "closing a socket that fell %s messages behind (order_id %s, position %s)",
                self._buffer_size,
                subscription.order_id,
                self.position,
            )
            self._drop(subscription, SLOW_CLIENT)

    def _drop(self, subscription: Subscription, closing: Closing) -> None:
        self.unsubscribe(subscription)
        subscription.on_close(closing)

    def _reader_stopped(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._stopping:
            return
        self._running = False
        logger.error("log relay stopped at position %s", self.position, exc_info=task.exception())
        self._close_all(RELAY_FAILED)

    def _close_all(self, closing: Closing) -> None:
        for subscription in list(self._subscriptions):
            self._drop(subscription, closing)


def _log_reconnect(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning(
        "log relay lost Redis (%s); reconnecting, attempt %s", error, state.attempt_number
    )
