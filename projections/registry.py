"""The projections this engine runs, by name: what `oee project` runs and `oee replay` rebuilds."""

from __future__ import annotations

from collections.abc import Iterable

from eventlog.keys import PROJECTION_GROUP_PREFIX
from projections.orders_projection import OrdersProjection
from projections.projection import Projection

PROJECTIONS: dict[str, Projection] = {p.name: p for p in (OrdersProjection(),)}


class UnknownProjectionError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown projection {name!r}; known: {', '.join(PROJECTIONS)}")
        self.name = name


def select_projections(names: Iterable[str] | None) -> list[Projection]:
    """The named projections (all of them for None), in registry order."""
    if names is None:
        return list(PROJECTIONS.values())
    wanted = list(dict.fromkeys(names))
    for name in wanted:
        if name not in PROJECTIONS:
            raise UnknownProjectionError(name)
    return [p for p in PROJECTIONS.values() if p.name in wanted]


def group_name(projection: Projection) -> str:
    """The consumer group of a projection: `projection:<name>`."""
    return PROJECTION_GROUP_PREFIX + projection.name
