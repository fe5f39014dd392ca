"""The point-read model of orders a process follows: what it answers, and when it stays silent
so that the table or the log answers instead."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from api.finished_views import FinishedViews
from api.live_orders import LiveOrders
from api.order_views import order_answer
from bench.sample_histories import build_histories
from eventlog.codec import Recorded
from schema.events import Event, TransactionSubmitted, new_event
from tests.support.factories import order_placed, routing_started


class Follower:
    def __init__(self, limit: int = 100) -> None:
        self.reading = True
        self.finished = FinishedViews()
        self.renders = 0
        self.live = LiveOrders(self.finished, self._render, lambda: self.reading, limit)
        self._positions = 0

    def _render(self, state: Any, position: str) -> bytes:
        self.renders += 1
        return order_answer(state, position)

    def learn(self, *events: Event[Any]) -> None:
        for event in events:
            self._positions += 1
            self.live.learn(Recorded(f"{self._positions}-0", event))

    def status(self, order_id: uuid.UUID) -> str | None:
        answer = self.live.answer(order_id)
        if answer is None:
            return None
        status: str = orjson.loads(answer[1])["order"]["status"]
        return status


def test_an_order_is_answered_from_its_placement_on_and_rendered_once_per_change() -> None:
    follower = Follower()
    placed = order_placed(client_id="alice")
    follower.learn(placed)
    assert follower.status(placed.order_id) == "pending"
    answer = follower.live.answer(placed.order_id)
    assert answer is not None
    assert answer[0] == "alice"
    assert follower.renders == 1  # read twice, rendered once
    follower.learn(routing_started(placed.order_id, 2))
    assert follower.status(placed.order_id) == "routing"
    assert follower.renders == 2


def test_events_of_an_order_not_seen_placed_are_not_answered() -> None:
    follower = Follower()
    placed = order_placed()
    follower.learn(routing_started(placed.order_id, 2))  # its placement came before the relay
    assert follower.live.answer(placed.order_id) is None
    assert len(follower.live) == 0


def test_a_gap_in_what_was_read_stops_answering_for_that_order() -> None:
    follower = Follower()
    placed = order_placed()
    follower.learn(placed, routing_started(placed.order_id, 3))  # sequence 2 never arrived
    assert follower.live.answer(placed.order_id) is None


def test_an_answer_given_from_elsewhere_is_never_followed_by_an_older_one() -> None:
    follower = Follower()
    placed = order_placed()
    follower.live.answered_elsewhere(placed.order_id, 2)  # the table had it at routing
    follower.learn(placed)  # the relay, behind, reaches its placement
    assert follower.live.answer(placed.order_id) is None
    follower.learn(routing_started(placed.order_id, 2))
    assert follower.status(placed.order_id) == "routing"


def test_nothing_is_answered_while_the_relay_is_not_reading_the_log() -> None:
    follower = Follower()
    placed = order_placed()
    follower.learn(placed)
    follower.reading = False
    assert follower.live.answer(placed.order_id) is None


def test_the_least_recently_changed_orders_are_dropped_past_the_limit() -> None:
    follower = Follower(limit=3)
    orders = [order_placed() for _ in range(4)]
    follower.learn(*orders[:3])
    follower.learn(routing_started(orders[0].order_id, 2))  # changed again: kept
    follower.learn(orders[3])
    kept = [o.order_id for o in orders if follower.live.answer(o.order_id) is not None]
    assert kept == [orders[0].order_id, orders[2].order_id, orders[3].order_id]
    assert len(follower.live) == 3


def test_an_order_followed_to_its_end_moves_to_the_finished_views_rendered_when_read() -> None:
    follower = Follower()
    events = build_histories(20, seed=5)
    confirmed = next(e.order_id for e in events if e.type == "OrderConfirmed")
    follower.learn(*(e for e in events if e.order_id == confirmed))
    assert follower.live.answer(confirmed) is None
    assert follower.renders == 0
    view = follower.finished.get(confirmed)
    assert view is not None
    assert orjson.loads(view.body)["order"]["status"] == "confirmed"
    assert follower.renders == 1


def test_an_event_the_fold_refuses_drops_the_order_and_keeps_what_it_showed_as_its_floor() -> None:
    follower = Follower()
    placed = order_placed()
    follower.learn(placed, routing_started(placed.order_id, 2))
    assert follower.status(placed.order_id) == "routing"
    submitted = TransactionSubmitted(attempt=1, tx_hash="x")
    refused = new_event(submitted, order_id=placed.order_id, sequence=3)
    follower.learn(refused)  # routing → submitted skips building: the fold refuses it
    assert follower.live.answer(placed.order_id) is None
    assert follower.live.floor(placed.order_id) == 2  # a projected row at 1 is behind: not served
    other = order_placed()
    follower.learn(other)  # and the others are still followed
    assert follower.status(other.order_id) == "pending"


def test_an_order_dropped_past_the_limit_keeps_its_floor() -> None:
    follower = Follower(limit=1)
    first, second = order_placed(), order_placed()
    follower.learn(first, routing_started(first.order_id, 2), second)
    assert follower.live.answer(first.order_id) is None
    assert follower.live.floor(first.order_id) == 2
    assert follower.live.floor(second.order_id) == 1
