"""Which logged events a projection can apply. An entry that does not decode, or whose amounts the
read model cannot keep exactly (PostgreSQL `numeric` and the counters' exact sums), is skipped and
reported, by the live projector and by replay alike: replay still equals live, and one bad entry in
the system of record never stops a rebuild. Intake refuses such values (`commands.place_order`);
only a log written before that, or by hand, holds them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from eventlog.codec import Recorded, UndecodableEntryError, decode
from schema.events import VENUE_EVENT_TYPES

logger = logging.getLogger(__name__)

# Each amount keeps at most this many digits on either side of the point: far beyond any token's
# decimals or any price, and sums of many such amounts stay within the counters' 120 digits.
MAX_DIGITS_EACH_SIDE = 50


@dataclass(frozen=True, slots=True)
class Skipped:
    """An entry left out of the projections, and why."""

    position: str
    order_id: str | None
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return {"position": self.position, "orderId": self.order_id, "reason": self.reason}


def unappliable(recorded: Recorded) -> str | None:
    """Why the read model cannot keep this event's values; None when it can."""
    for name, value in _amounts(recorded.event.payload):
        if not value.is_finite():
            return f"{name} is {value}"
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        places, whole = max(0, -exponent), max(0, len(digits) + exponent)
        if places > MAX_DIGITS_EACH_SIDE or whole > MAX_DIGITS_EACH_SIDE:
            return (
                f"{name} has {whole} digits before the point and {places} after "
                f"(at most {MAX_DIGITS_EACH_SIDE} each are kept)"
            )
    return None


def split_appliable(batch: Iterable[Recorded]) -> tuple[list[Recorded], list[Skipped]]:
    """The events a projection can apply, in order, and those it skips (each logged). A venue's
    event (a pool launch) is no order's: the order tables have nothing to apply, and nothing is
    skipped."""
    kept: list[Recorded] = []
    skipped: list[Skipped] = []
    for recorded in batch:
        if recorded.event.type in VENUE_EVENT_TYPES:
            continue
        reason = unappliable(recorded)
        if reason is None:
            kept.append(recorded)
        else:
            skipped.append(_skip(recorded.position, str(recorded.event.order_id), reason))
    return kept, skipped


def decode_appliable(
    entries: Sequence[tuple[bytes, dict[bytes, bytes]]], skipped: list[Skipped]
) -> list[Recorded]:
    """Decode raw log entries, keeping those a projection can apply; the rest go to `skipped`."""
    decoded: list[Recorded] = []
    for position, fields in entries:
        try:
            decoded.append(decode(position, fields))
        except UndecodableEntryError as exc:
            order_id = fields.get(b"order_id")
            skipped.append(
                _skip(
                    exc.position, order_id.decode(errors="replace") if order_id else None, str(exc)
                )
            )
    kept, unkept = split_appliable(decoded)
    skipped += unkept
    return kept


def _skip(position: str, order_id: str | None, reason: str) -> Skipped:
    logger.error(
        "projection skips the entry at position=%s (order_id %s): %s",
        position,
        order_id,
        reason,
        extra={"position": position, "order_id": order_id},
    )
    return Skipped(position, order_id, reason)


def _amounts(value: Any, name: str = "") -> Iterator[tuple[str, Decimal]]:
    if isinstance(value, Decimal):
        yield name, value
    elif isinstance(value, BaseModel):
        for field, inner in value.__dict__.items():
            yield from _amounts(inner, f"{name}.{field}" if name else field)
    elif isinstance(value, (tuple, list)):
        for index, inner in enumerate(value):
            yield from _amounts(inner, f"{name}[{index}]")
