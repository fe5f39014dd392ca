"""One way to log about an order: the order, the event and the log position in the message and as
structured fields (`extra`), so a log line can be found from any of the three."""

from __future__ import annotations

import logging
import uuid


def log_order(
    logger: logging.Logger,
    level: int,
    order_id: uuid.UUID,
    event_id: uuid.UUID,
    position: str | None,
    message: str,
    *args: object,
) -> None:
    if not logger.isEnabledFor(level):
        return
    logger.log(
        level,
        "order_id=%s event_id=%s position=%s " + message,
        order_id,
        event_id,
        position,
        *args,
        extra={"order_id": str(order_id), "event_id": str(event_id), "position": position},
    )
