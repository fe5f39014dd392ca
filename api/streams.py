"""A WebSocket stream's session: one order's events (history, then live) or every order's events
(live, or resumed from a position). Live events come from the process's log relay; history from
bounded log reads; a socket subscribes before it reads, and positions remove the overlap: no gap,
no duplicate.
With API keys on, a client's socket sees only its own orders: another's order stream is refused as
an unknown order is, and the global stream (live and catch-up) leaves out others' events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import orjson
import psycopg
from redis.exceptions import RedisError
from starlette.types import Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from api.auth import caller_of, client_id_of
from api.order_log import order_history, state_of
from api.relay import RelayUnavailableError
from api.resources import resources
from api.stream_closing import ClosingError, close, refuse
from api.stream_messages import (
    INTERNAL_ERROR,
    ORDER_FINISHED,
    ORDER_NOT_FOUND,
    POSITION_EXPIRED,
    RELAY_FAILED,
    SLOW_CLIENT,
    Closing,
    Outgoing,
    connected_message,
    error_message,
    event_message,
    heartbeat_message,
    pong_message,
)
from api.subscription import Subscription
from eventlog.codec import PositionKey, Recorded, position_key
from eventlog.reading import first_kept, read_after
from eventlog.trim_point import has_archive

logger = logging.getLogger(__name__)

CATCH_UP_PAGE = 200  # events per catch-up read of the whole log, sent under one catch-up slot
CATCH_UP_TURN = 25  # events sent between two turns of the event loop during a catch-up
CATCH_UP_PAGE_SECONDS = 10.0  # a client that does not take a page in this long is too slow


class StreamSession:
    """One socket: catch up from the log, then send what the relay offers, until told to stop."""

    def __init__(
        self, websocket: WebSocket, send: Send, order_id: uuid.UUID | None, after: str | None
    ) -> None:
        self.websocket = websocket
        self._send = send  # the server's own send: the hot path skips Starlette's wrapper
        self.order_id = order_id
        self.after = after
        self.res = resources(websocket)
        self.relay = self.res.relay
        self.last: PositionKey = position_key(after) if after else (0, 0)
        self.subscription: Subscription | None = None
        caller = caller_of(websocket)
        # The client whose orders alone this socket may see; None: every order.
        self.client = None if caller is None or caller.admin else client_id_of(caller)
        self._done: asyncio.Future[Closing | None] = asyncio.get_running_loop().create_future()
        self._terminal_timer: asyncio.TimerHandle | None = None
        self._heartbeat_seconds = self.res.settings.ws_heartbeat_seconds
        self._last_sent = 0.0  # loop time of the last message sent to this socket

    def finish(self, closing: Closing | None) -> None:
        """Stop the session; the first reason wins. None: the client is gone, send nothing."""
        if not self._done.done():
            self._done.set_result(closing)

    async def run(self) -> None:
        subscription: Subscription | None
        closing: Closing | None
        try:
            if self.order_id is None:
                subscription = await self._catch_up_all()
            else:
                subscription = await self._catch_up_order(self.order_id)
            closing = await self._stream_live(subscription) if subscription else None
        except WebSocketDisconnect:
            closing = None
        except ClosingError as exc:
            if exc.error_code is not None:
                await refuse(self.websocket, exc.closing.code, exc.error_code, exc.closing.reason)
                closing = None
            else:
                closing = exc.closing
        except RelayUnavailableError:
            closing = RELAY_FAILED
        except (RedisError, psycopg.OperationalError) as exc:  # a store away: the archive's too
            logger.warning("websocket catch-up failed (order_id %s): %s", self.order_id, exc)
            closing = RELAY_FAILED
        finally:
            if self.subscription is not None:
                self.relay.unsubscribe(self.subscription)
            if self._terminal_timer is not None:
                self._terminal_timer.cancel()
        if closing is not None:
            await close(self.websocket, closing)

    def _subscribe(self) -> Subscription:
        self.subscription = self.relay.subscribe(self.order_id, self.finish, self.client)
        return self.subscription

    async def _catch_up_order(self, order_id: uuid.UUID) -> Subscription | None:
        subscription = self._subscribe()
        history, hidden = await self._read_order(order_id)
        grace = self.res.settings.ws_unknown_order_grace_ms / 1000
        if hidden and grace > 0:
            # Refused no sooner than an unknown id is, so the timing does not tell it exists.
            await asyncio.sleep(grace)
        elif not history and grace > 0:
            # The order may be appended an instant from now; the subscription would see it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscription.take(), grace)
                history, _ = await self._read_order(order_id)
        if not history:
            await refuse(
                self.websocket, ORDER_NOT_FOUND, "ORDER_NOT_FOUND", f"order {order_id} not found"
            )
            return None
        await self._deliver(Outgoing(connected_message(order_id, self.relay.position, self.after)))
        for recorded in history:
            await self._deliver(event_message(recorded))
        return subscription

    async def _catch_up_all(self) -> Subscription:
        if self.after is None:
            subscription = self._subscribe()
            self.last = position_key(self.relay.position)
            await self._deliver(Outgoing(connected_message(None, self.relay.position, None)))
            return subscription
        await self._check_kept(self.after)  # before `connected`: refused, not begun and ended
        await self._deliver(Outgoing(connected_message(None, self.after, self.after)))
        # Catch up without a subscription (nothing to buffer), then subscribe and read what was
        # appended meanwhile: everything after that comes from the relay.
        read_to = await self._send_log_after(self.after)
        subscription = self._subscribe()
        await self._send_log_after(read_to)
        return subscription

    async def _read_order(self, order_id: uuid.UUID) -> tuple[list[Recorded], bool]:
        """The order's history (empty for an unknown order), and whether it is another client's
        (then the history is empty too)."""
        async with self.relay.catch_up_reads:
            history = await order_history(self.res, order_id)
        if self.client is not None and history:
            state = state_of(history[:1])
            if state is None or state.client_id != self.client:
                return [], True
        return history, False

    async def _send_log_after(self, after: str) -> str:
        """Send the log after `after` (a client's socket: its own orders' events), a page per
        catch-up slot, yielding every few events; the position of the last event read."""
        while True:
            async with self.relay.catch_up_slots:
                await self._check_kept(after)
                page = await read_after(
                    self.res.redis, self.res.keys, after, CATCH_UP_PAGE, self.res.archive
                )
                shown = await self._own(page)
                try:
                    async with asyncio.timeout(CATCH_UP_PAGE_SECONDS):
                        for sent, recorded in enumerate(shown, start=1):
                            await self._deliver(event_message(recorded))
                            if sent % CATCH_UP_TURN == 0:
                                await asyncio.sleep(0)
                except TimeoutError:
                    raise ClosingError(SLOW_CLIENT) from None
            if page:
                after = page[-1].position
            if len(page) < CATCH_UP_PAGE:
                return after

    async def _own(self, page: list[Recorded]) -> list[Recorded]:
        """The events of `page` this socket may see."""
        if self.client is None:
            return page
        owners = self.relay.owners
        await owners.resolve(self.res.redis, self.res.keys, page, self.res.archive)
        return [r for r in page if owners.get(r.event.order_id) == self.client]

    async def _check_kept(self, after: str) -> None:
        """A resume point before what the log still holds is served from the archive, which
        holds what the log's own trimming removed; without an archive group (the log trimmed
        by hand, say) it cannot be served without a gap."""
        first = await first_kept(self.res.redis, self.res.keys)
        if first is None or position_key(after) >= position_key(first):
            return
        redis, keys = self.res.redis, self.res.keys
        if self.res.archive is None or not await has_archive(redis, keys):
            raise ClosingError(
                POSITION_EXPIRED,
                "POSITION_EXPIRED",
                f"the log no longer holds the events after {after} (it starts at {first}); "
                "reconnect without after, and read orders with GET /api/orders",
            )

    async def _deliver(self, message: Outgoing) -> None:
        """Send one message; an event at or before the last one sent is skipped."""
        if message.terminal and self.order_id is not None and self._terminal_timer is None:
            # Nothing follows a terminal event (even one the client resumed after): close soon.
            delay = self.res.settings.ws_close_after_terminal_ms / 1000
            loop = asyncio.get_running_loop()
            self._terminal_timer = loop.call_later(delay, self.finish, ORDER_FINISHED)
        position = message.position
        if position is not None:
            if position <= self.last:
                return
            self.last = position
        try:
            await self._send(message.asgi)
        except OSError:  # the server's "client disconnected"
            raise WebSocketDisconnect(1006) from None
        self._last_sent = asyncio.get_running_loop().time()

    async def _stream_live(self, subscription: Subscription) -> Closing | None:
        sender = asyncio.create_task(self._send_offered(subscription))
        receiver = asyncio.create_task(self._answer_client(subscription))
        sender.add_done_callback(self._crashed)
        receiver.add_done_callback(self._crashed)
        try:
            return await self._done
        finally:
            sender.cancel()
            receiver.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)

    def _crashed(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "websocket stream failed (order_id %s)", self.order_id, exc_info=task.exception()
            )
            self.finish(INTERNAL_ERROR)

    async def _send_offered(self, subscription: Subscription) -> None:
        """Send what the relay offers; after `ws_heartbeat_seconds` with nothing sent to this
        socket (its `connected` message included), send a heartbeat."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                quiet_for = loop.time() - self._last_sent
                message = await subscription.take(self._heartbeat_seconds - quiet_for)
                await self._deliver(message or heartbeat_message())
        except WebSocketDisconnect:
            self.finish(None)

    async def _answer_client(self, subscription: Subscription) -> None:
        while True:
            received = await self.websocket.receive()
            if received["type"] == "websocket.disconnect":
                self.finish(None)
                return
            if _is_ping(received.get("text") or received.get("bytes")):
                answer = pong_message()
            else:
                text = error_message(
                    "UNKNOWN_MESSAGE", 'the server only understands {"type":"ping"}'
                )
                answer = Outgoing(text)
            # Answers go through the buffer too: one sender per socket, and a bound on what waits.
            if not subscription.offer(answer):
                self.relay.unsubscribe(subscription)
                self.finish(SLOW_CLIENT)


def _is_ping(raw: str | bytes | None) -> bool:
    try:
        message = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"
