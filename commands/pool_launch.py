"""The `LaunchPool` command (`POST /api/venues/pools`): a venue opens a pool, listing its second
token when that is new. Validated completely before anything is written; its decision is a
`PoolLaunched` event, the first of the pool's own id in the log, so a venue launches a pair once."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator

from commands.order_values import MAX_AMOUNT, decimal_places, decimal_schema, plain_decimal
from commands.place_order import CommandRejectedError
from schema.events import Event, PoolLaunched, new_event, pool_id
from schema.tokens import MAX_DECIMALS, SYMBOL, SYMBOL_PATTERN, TOKENS, launched_mint

# A pool's reserves are exact in the swap script's doubles below this many base units.
MAX_POOL_UNITS = 2**53
_RESERVE = WithJsonSchema(
    decimal_schema(maximum=MAX_AMOUNT, places=MAX_DECIMALS, exclusive_minimum=True)
)
_SYMBOL = WithJsonSchema({"type": "string", "pattern": SYMBOL_PATTERN})
_FIELD_NAMES = {
    "token_a": "tokenA",
    "token_b": "tokenB",
    "reserve_a": "reserveA",
    "reserve_b": "reserveB",
    "decimals_b": "decimalsB",
}


class LaunchPool(BaseModel):
    """The body of `POST /api/venues/pools`, in the API's camelCase."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "venue": "raydium",
                    "tokenA": "SOL",
                    "tokenB": "WIF",
                    "reserveA": "1000",
                    "reserveB": "5000000",
                    "decimalsB": 6,
                }
            ]
        },
    )

    venue: Literal["raydium", "meteora"]
    token_a: Annotated[str, _SYMBOL] = Field(
        alias="tokenA", description="A listed token: what the pool is priced in."
    )
    token_b: Annotated[str, _SYMBOL] = Field(
        alias="tokenB", description="The token the pool opens a market for; listed if it is new."
    )
    reserve_a: Annotated[Decimal, _RESERVE] = Field(alias="reserveA")
    reserve_b: Annotated[Decimal, _RESERVE] = Field(alias="reserveB")
    decimals_b: int | None = Field(
        default=None,
        alias="decimalsB",
        ge=0,
        le=MAX_DECIMALS,
        strict=True,
        description="tokenB's decimals: required when tokenB is new, else it must match.",
    )

    @field_validator("reserve_a", "reserve_b", mode="before")
    @classmethod
    def _exact_decimal(cls, value: Any) -> Any:
        return plain_decimal(value)

    @field_validator("reserve_a", "reserve_b")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0 or value > MAX_AMOUNT:
            raise ValueError(f"must be greater than 0 and at most {MAX_AMOUNT}")
        return value

    @field_validator("token_a", "token_b")
    @classmethod
    def _symbol(cls, value: str) -> str:
        symbol = value.upper() if value.isascii() else value
        if not SYMBOL.fullmatch(symbol):
            raise ValueError("must be a token symbol: 2 to 10 ASCII letters or digits")
        return symbol


def _refuse(field: str, message: str) -> CommandRejectedError:
    return CommandRejectedError(
        "VALIDATION_ERROR",
        f"invalid pool: {field}: {message}",
        [{"field": field, "message": message}],
    )


def parse_launch_pool(body: Any) -> tuple[LaunchPool, int]:
    """Validate a decoded JSON body; returns the command and tokenB's decimals."""
    if not isinstance(body, dict):
        raise CommandRejectedError("VALIDATION_ERROR", "the body must be a JSON object", [])
    try:
        command = LaunchPool.model_validate(body)
    except ValidationError as exc:
        details = [
            {
                "field": _FIELD_NAMES.get(str(e["loc"][0]), str(e["loc"][0]))
                if e["loc"]
                else "body",
                "message": "unknown field"
                if e["type"] == "extra_forbidden"
                else e["msg"].removeprefix("Value error, "),
            }
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise CommandRejectedError(
            "VALIDATION_ERROR", f"invalid pool: {summary}", details
        ) from None
    token_a = TOKENS.get(command.token_a)
    if token_a is None:
        raise _refuse("tokenA", f"unknown token {command.token_a!r}; known: {', '.join(TOKENS)}")
    if command.token_a == command.token_b:
        raise _refuse("tokenB", "must differ from tokenA")
    listed = TOKENS.get(command.token_b)
    if listed is None and command.decimals_b is None:
        raise _refuse("decimalsB", f"is required: {command.token_b} is not listed yet")
    if listed is not None and command.decimals_b not in (None, listed.decimals):
        raise _refuse("decimalsB", f"{listed.symbol} is listed with {listed.decimals} decimals")
    decimals_b = listed.decimals if listed is not None else command.decimals_b
    assert decimals_b is not None
    if decimal_places(command.reserve_a) > token_a.decimals:
        raise _refuse("reserveA", f"has more than {token_a.decimals} decimals for {token_a.symbol}")
    if decimal_places(command.reserve_b) > decimals_b:
        raise _refuse("reserveB", f"has more than {decimals_b} decimals for {command.token_b}")
    for field, amount, decimals in (
        ("reserveA", command.reserve_a, token_a.decimals),
        ("reserveB", command.reserve_b, decimals_b),
    ):
        if amount.scaleb(decimals) >= MAX_POOL_UNITS:
            raise _refuse(
                field, f"is too large: a pool holds under 2^53 base units ({decimals} decimals)"
            )
    return command, decimals_b


def decide_launch_pool(command: LaunchPool, decimals_b: int) -> Event[PoolLaunched]:
    listed = TOKENS.get(command.token_b)
    return new_event(
        PoolLaunched(
            venue=command.venue,
            token_a=command.token_a,
            token_b=command.token_b,
            reserve_a=command.reserve_a,
            reserve_b=command.reserve_b,
            decimals_b=decimals_b,
            mint_b=listed.mint if listed is not None else launched_mint(command.token_b),
        ),
        order_id=pool_id(command.venue, command.token_a, command.token_b),
        sequence=1,
    )
