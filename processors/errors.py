"""Execution error codes and the one exception type that carries them.

Each code says here, once, whether a fresh attempt could succeed (`retryable`).
"""

from __future__ import annotations

import uuid
from enum import StrEnum


class ErrorCode(StrEnum):
    SLIPPAGE_EXCEEDED = "SLIPPAGE_EXCEEDED"
    TX_FAILED_TO_LAND = "TX_FAILED_TO_LAND"
    QUOTE_EXPIRED = "QUOTE_EXPIRED"
    RPC_TIMEOUT = "RPC_TIMEOUT"
    NO_ROUTE = "NO_ROUTE"
    INSUFFICIENT_LIQUIDITY = "INSUFFICIENT_LIQUIDITY"
    AMOUNT_TOO_SMALL = "AMOUNT_TOO_SMALL"
    SUBMISSION_VOIDED = "SUBMISSION_VOIDED"
    PROCESSING_ERROR = "PROCESSING_ERROR"


RETRYABLE_CODES = frozenset(
    {ErrorCode.TX_FAILED_TO_LAND, ErrorCode.QUOTE_EXPIRED, ErrorCode.RPC_TIMEOUT}
)

DEFAULT_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.SLIPPAGE_EXCEEDED: "the pool moved: the swap would give less than minAmountOut",
    ErrorCode.TX_FAILED_TO_LAND: "the transaction was not included before its blockhash expired",
    ErrorCode.QUOTE_EXPIRED: "the quote is too old to submit; routing again",
    ErrorCode.RPC_TIMEOUT: "the venue's RPC node did not answer in time",
    ErrorCode.NO_ROUTE: "no pool on any venue connects these tokens",
    ErrorCode.INSUFFICIENT_LIQUIDITY: "the pools cannot fill this amount",
    ErrorCode.AMOUNT_TOO_SMALL: "the amount is too small to swap after fees",
    ErrorCode.SUBMISSION_VOIDED: "the submission was voided after the order failed",
    ErrorCode.PROCESSING_ERROR: "the order could not be processed",
}


def is_retryable(code: str) -> bool:
    return code in RETRYABLE_CODES


class ExecutionError(Exception):
    """An order's attempt failed with a known code; `retryable` says whether to try again."""

    def __init__(
        self, order_id: uuid.UUID, code: ErrorCode | str, message: str | None = None
    ) -> None:
        self.order_id = order_id
        self.code = ErrorCode(code)
        self.message = message or DEFAULT_MESSAGES[self.code]
        super().__init__(f"order {order_id}: {self.code}: {self.message}")

    @property
    def retryable(self) -> bool:
        return is_retryable(self.code)
