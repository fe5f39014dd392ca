"""The machine's ceilings for our HTTP endpoints: a bare Starlette app on uvicorn, one process,
answering GET /fixed with a fixed JSON body of about /health's size, and, given a Redis URL and a
stream, POST /place: a body shaped like an order placement validated by a small pydantic model,
one XADD of it, 202 with a small JSON body. Run as `python -m bench.ceiling_app PORT [REDIS_URL
STREAM]`; the benchmarks load it with the same generator as the API, so each figure can be read
as a fraction of what the framework, validation and one XADD can do here."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Literal

import orjson
import redis.asyncio as aioredis
import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FIXED = (
    b'{"status":"healthy","timestamp":"2026-01-01T00:00:00.000000Z","checks":{"redis":'
    b'{"status":"up"},"postgres":{"status":"up"},"consumers":{}}}'
)
SYMBOL = r"^[A-Za-z0-9]{2,10}$"


class Placement(BaseModel):
    """The fields of POST /api/orders/execute with simple bounds: the cost of validating such a
    body, without the engine's own rules (token listing, decimals per token, order kinds)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    order_type: Literal["market", "limit", "sniper"] = Field(alias="orderType")
    token_in: str = Field(alias="tokenIn", pattern=SYMBOL)
    token_out: str = Field(alias="tokenOut", pattern=SYMBOL)
    amount_in: Decimal = Field(alias="amountIn", gt=0, le=10**12)
    slippage: Decimal | None = Field(default=None, ge=0, le=1)
    limit_price: Decimal | None = Field(default=None, alias="limitPrice", gt=0)
    expires_in_seconds: int | None = Field(
        default=None, alias="expiresInSeconds", ge=1, le=30 * 24 * 3600
    )
    min_liquidity: Decimal | None = Field(default=None, alias="minLiquidity", ge=0)


async def fixed(request: Request) -> Response:
    return Response(FIXED, media_type="application/json")


def build_app(redis_url: str | None = None, stream: str | None = None) -> Starlette:
    """GET /fixed always; POST /place when given a Redis URL and the stream it appends to."""
    routes = [Route("/fixed", fixed)]
    if redis_url is None or stream is None:
        return Starlette(routes=routes)
    client = aioredis.Redis.from_url(redis_url)

    async def place(request: Request) -> Response:
        try:
            placement = Placement.model_validate_json(await request.body())
        except ValidationError as exc:
            return Response(exc.json(include_url=False), 400, media_type="application/json")
        order_id = str(uuid.uuid4())
        entry = {"type": "OrderPlaced", "order_id": order_id, "data": placement.model_dump_json()}
        await client.xadd(stream, entry)  # type: ignore[arg-type]  # redis-py's field types
        body = orjson.dumps({"orderId": order_id, "status": "pending"})
        return Response(body, 202, media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[*routes, Route("/place", place, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    port, *redis = sys.argv[1:]
    app = build_app(*redis) if redis else build_app()
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")


if __name__ == "__main__":
    main()
