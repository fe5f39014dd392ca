"""The `PlaceOrder` command: its validation and the decision that turns it into `OrderPlaced`.

Validation is complete before anything is written: a refused command changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from commands.order_checks import FIELDS_NAMED_IN_CHECKS, check_order_fields
from commands.order_values import (
    DEFAULT_EXPIRY_SECONDS,
    MAX_AMOUNT,
    MAX_EXPIRY_SECONDS,
    MAX_PRICE,
    MAX_PRICE_DECIMALS,
    MAX_SLIPPAGE,
    MAX_SLIPPAGE_DECIMALS,
    decimal_places,
    decimal_schema,
    plain_decimal,
)
from schema.events import Event, OrderPlaced, new_event
from schema.tokens import MAX_DECIMALS, SYMBOL, SYMBOL_PATTERN, TOKENS


class CommandRejectedError(ValueError):
    """The command is invalid; `details` says which field and why."""

    def __init__(self, code: str, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


_MAX_TOKEN_DECIMALS = MAX_DECIMALS
_TOKEN = {
    "type": "string",
    "pattern": SYMBOL_PATTERN,
    "examples": list(TOKENS),
    "description": (
        "A listed token's symbol, in any letter case (a sniper order's tokenOut may be a symbol"
        " not listed yet: 2 to 10 ASCII letters or digits)."
    ),
}


class PlaceOrder(BaseModel):
    """The body of `POST /api/orders/execute`, in the API's camelCase."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"orderType": "market", "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "0.25"}
            ]
        },
    )

    order_type: Literal["market", "limit", "sniper"] = Field(alias="orderType")
    token_in: Annotated[str, WithJsonSchema(_TOKEN)] = Field(alias="tokenIn")
    token_out: Annotated[str, WithJsonSchema(_TOKEN)] = Field(alias="tokenOut")
    amount_in: Annotated[
        Decimal,
        WithJsonSchema(
            decimal_schema(maximum=MAX_AMOUNT, places=_MAX_TOKEN_DECIMALS, exclusive_minimum=True)
        ),
    ] = Field(
        alias="amountIn",
        description="Amount of tokenIn to sell, with at most as many decimals as tokenIn has.",
    )
    slippage: Annotated[
        Decimal | None,
        WithJsonSchema(
            decimal_schema(
                maximum=MAX_SLIPPAGE,
                places=MAX_SLIPPAGE_DECIMALS,
                exclusive_minimum=False,
                nullable=True,
            )
        ),
    ] = Field(
        default=None,
        description=(
            f"Fraction of the expected amount out the order may lose, 0 to 1 (1: any price, "
            f"minAmountOut 0), at most {MAX_SLIPPAGE_DECIMALS} decimals; absent: the server's "
            "SLIPPAGE_TOLERANCE (at most 0.5)."
        ),
    )
    limit_price: Annotated[
        Decimal | None,
        WithJsonSchema(
            decimal_schema(
                maximum=MAX_PRICE,
                places=MAX_PRICE_DECIMALS,
                exclusive_minimum=True,
                nullable=True,
            )
        ),
    ] = Field(
        default=None,
        alias="limitPrice",
        description=(
            "Limit orders only, and required for them: the least tokenOut per tokenIn the order "
            f"accepts, greater than 0, at most {MAX_PRICE_DECIMALS} decimals."
        ),
    )
    expires_in_seconds: int | None = Field(
        default=None,
        alias="expiresInSeconds",
        ge=1,
        le=MAX_EXPIRY_SECONDS,
        strict=True,
        description=(
            "Limit orders only: how long the order may rest before it expires, in seconds "
            f"(default {DEFAULT_EXPIRY_SECONDS}, at most {MAX_EXPIRY_SECONDS})."
        ),
    )

    min_liquidity: Annotated[
        Decimal | None,
        WithJsonSchema(
            decimal_schema(
                maximum=MAX_AMOUNT,
                places=_MAX_TOKEN_DECIMALS,
                exclusive_minimum=False,
                nullable=True,
            )
        ),
    ] = Field(
        default=None,
        alias="minLiquidity",
        description=(
            "Sniper orders only: the least tokenIn a launched pool must hold for the order to"
            " execute (absent: any pool)."
        ),
    )

    @field_validator("amount_in", "slippage", "limit_price", "min_liquidity", mode="before")
    @classmethod
    def _exact_decimal(cls, value: Any) -> Any:
        return None if value is None else plain_decimal(value)

    @field_validator("token_in", "token_out")
    @classmethod
    def _symbol(cls, value: str) -> str:
        # ASCII only: Unicode upper-cases the long s (U+017F) to "S", so "\u017fol" would be SOL.
        symbol = value.upper() if value.isascii() else value
        if not SYMBOL.fullmatch(symbol):
            raise ValueError(f"unknown token {value!r}; known tokens: {', '.join(TOKENS)}")
        return symbol

    @field_validator("slippage")
    @classmethod
    def _slippage_range(cls, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        if value.is_signed() or value > MAX_SLIPPAGE:
            raise ValueError(f"must be between 0 and {MAX_SLIPPAGE}")
        if decimal_places(value) > MAX_SLIPPAGE_DECIMALS:
            raise ValueError(f"must have at most {MAX_SLIPPAGE_DECIMALS} decimals")
        return value

    @field_validator("amount_in")
    @classmethod
    def _amount_range(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be greater than 0")
        if value > MAX_AMOUNT:
            raise ValueError(f"must be at most {MAX_AMOUNT}")
        return value

    @field_validator("limit_price")
    @classmethod
    def _positive_price(cls, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        if value <= 0:
            raise ValueError("must be greater than 0")
        if value > MAX_PRICE:
            raise ValueError(f"must be at most {MAX_PRICE}")
        if decimal_places(value) > MAX_PRICE_DECIMALS:
            raise ValueError(f"must have at most {MAX_PRICE_DECIMALS} decimals")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlaceOrder:
        check_order_fields(self)
        return self

    def expires_at(self, now: datetime) -> datetime | None:
        """When a resting order placed at `now` expires; None for a market order."""
        if self.order_type == "market":
            return None
        seconds = self.expires_in_seconds or DEFAULT_EXPIRY_SECONDS
        return now + timedelta(seconds=seconds)


_FIELD_NAMES = {
    "order_type": "orderType",
    "token_in": "tokenIn",
    "token_out": "tokenOut",
    "amount_in": "amountIn",
    "limit_price": "limitPrice",
    "expires_in_seconds": "expiresInSeconds",
    "min_liquidity": "minLiquidity",
}


def parse_place_order(body: Any) -> PlaceOrder:
    """Validate a decoded JSON body; raises CommandRejectedError naming every bad field."""
    if not isinstance(body, dict):
        raise CommandRejectedError("VALIDATION_ERROR", "the body must be a JSON object", [])
    try:
        command = PlaceOrder.model_validate(body)
    except ValidationError as exc:
        details = []
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            loc = error["loc"]
            field = str(loc[0]) if loc else _infer_field(error["msg"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            details.append({"field": _FIELD_NAMES.get(field, field), "message": message})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        message = f"invalid order: {summary}"
        raise CommandRejectedError("VALIDATION_ERROR", message, details) from None
    return command


def _infer_field(message: str) -> str:
    for field in FIELDS_NAMED_IN_CHECKS:
        if field in message:
            return field
    return "body"


def decide_place_order(
    command: PlaceOrder,
    *,
    default_slippage: Decimal,
    client_id: str | None,
    idempotency_key_digest: str | None,
    correlation_id: uuid.UUID,
    order_id: uuid.UUID | None = None,
) -> Event[OrderPlaced]:
    """The event that placing this order records: a new order at sequence 1 (with `order_id`,
    or a new random one). The log keeps the digest of the client's Idempotency-Key
    (commands.idempotency.key_digest), never the key."""
    slippage = default_slippage if command.slippage is None else command.slippage
    now = datetime.now(UTC)
    return new_event(
        OrderPlaced(
            order_type=command.order_type,
            token_in=command.token_in,
            token_out=command.token_out,
            amount_in=command.amount_in,
            slippage=slippage,
            limit_price=command.limit_price,
            expires_at=command.expires_at(now),
            min_liquidity=command.min_liquidity,
            client_id=client_id,
            idempotency_key=idempotency_key_digest,
        ),
        order_id=order_id or uuid.uuid4(),
        sequence=1,
        correlation_id=correlation_id,
        occurred_at=now,
    )
