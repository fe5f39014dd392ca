"""How many WebSocket streams one API process serves: in total, and per client (`client_identity`).
A socket past either bound is told so and closed with 1013 ("try again later")."""

from __future__ import annotations

from collections import Counter

from api.stream_messages import Closing

TRY_AGAIN_LATER = 1013


class StreamAdmission:
    """Counts the open streams of one process; `admit` takes a place, `leave` gives it back."""

    def __init__(self, total: int, per_client: int) -> None:
        self._total = total
        self._per_client = per_client
        self._open: Counter[str] = Counter()
        self._count = 0

    @property
    def open_streams(self) -> int:
        return self._count

    def admit(self, client: str) -> Closing | None:
        """Take a place for `client`'s new stream; the refusal to send instead, when full."""
        if self._count >= self._total:
            return Closing(TRY_AGAIN_LATER, f"this server has {self._total} streams open")
        if self._open[client] >= self._per_client:
            return Closing(TRY_AGAIN_LATER, f"this client has {self._per_client} streams open")
        self._open[client] += 1
        self._count += 1
        return None

    def leave(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]
        self._count -= 1
