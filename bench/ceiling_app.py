"""The machine's ceiling for an HTTP endpoint: a bare Starlette app on uvicorn, one process,
answering GET /fixed with a fixed JSON body of about /health's size. Run as
`python -m bench.ceiling_app PORT`; the benchmarks load it with the same generator as the API,
so each figure can be read as a fraction of what the framework itself can do here."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FIXED = (
    b'{"status":"healthy","timestamp":"2026-01-01T00:00:00.000000Z","checks":{"redis":'
    b'{"status":"up"},"postgres":{"status":"up"},"consumers":{}}}'
)


async def fixed(request: Request) -> Response:
    return Response(FIXED, media_type="application/json")


app = Starlette(routes=[Route("/fixed", fixed)])


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
