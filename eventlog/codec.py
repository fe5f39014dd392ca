"""The codec between events and stream entries.

An entry has the fields `type`, `order_id` and `data` (the JSON envelope), so XRANGE stays readable;
the entry id is the event's position in the log and is attached on read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from schema.events import EVENT_MODELS, Event, Payload, event_from_dict


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as read from the log, with its position and (when read from an entry) the JSON
    envelope exactly as logged, for whoever copies it on without re-encoding it."""

    position: str
    event: Event[Payload]
    data: bytes | None = field(default=None, compare=False, repr=False)


PositionKey = tuple[int, int]


def position_key(position: str) -> PositionKey:
    """A log position (`<ms>-<seq>`) as a pair of numbers, to compare positions in log order."""
    ms, _, seq = position.partition("-")
    return int(ms), int(seq or "0")


SCORE_SEQUENCES = 4096


def position_score(position: str) -> float:
    """A log position as a sorted set's score, exact for the first SCORE_SEQUENCES entries of a
    millisecond (later ones share the last score): a score below another's means a position
    below it."""
    ms, seq = position_key(position)
    return ms + min(seq, SCORE_SEQUENCES - 1) / SCORE_SEQUENCES


class UndecodableEntryError(ValueError):
    def __init__(self, position: str, reason: str) -> None:
        self.position = position
        super().__init__(f"entry {position} cannot be decoded: {reason}")


def encode(event: Event[Any]) -> dict[bytes, bytes]:
    return {
        b"type": event.type.encode(),
        b"order_id": str(event.order_id).encode(),
        b"data": event.__pydantic_serializer__.to_json(event),
    }


def decode(position: bytes | str, fields: dict[bytes, bytes]) -> Recorded:
    pos = position.decode() if isinstance(position, bytes) else position
    data = fields.get(b"data")
    if data is None:
        raise UndecodableEntryError(pos, "no data field")
    # Fast path: the entry's `type` field picks the model, which validates the JSON bytes directly.
    entry_type = fields.get(b"type", b"").decode(errors="replace")
    model = EVENT_MODELS.get(entry_type)
    if model is not None:
        try:
            event = model.model_validate_json(data)
        except ValueError:
            pass  # the slow path below says what is wrong
        else:
            if event.type == entry_type:
                return Recorded(pos, event, data)
    try:
        return Recorded(pos, event_from_dict(orjson.loads(data)), data)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise UndecodableEntryError(pos, str(exc)) from exc
