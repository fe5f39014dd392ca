"""What `/health` found wrong, told to the operator's log rather than to whoever asks.

An error's text may name internal hosts and ports ("Error 111 connecting to 10.0.0.5:6379"), so
the answer carries only a status word and a generic sentence; the full error is logged here, once
when a check's state changes (not on every probe of a load balancer).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


class HealthReports:
    """Each check's last state, as the log has been told it."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def up(self, check: str) -> None:
        if self._last.pop(check, None) is not None:
            logger.warning("health check %s is up again", check)

    def failed(self, check: str, status: str, error: BaseException) -> None:
        state = f"{status}/{type(error).__name__}"
        if self._last.get(check) == state:
            return
        self._last[check] = state
        logger.warning(
            "health check %s is %s: %s", check, status, str(error) or type(error).__name__
        )
