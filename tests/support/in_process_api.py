"""The API app in the test's own process, over httpx's ASGI transport, with its lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from eventlog.settings import Settings
from oee.wiring import api_app


@contextlib.asynccontextmanager
async def in_process_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = api_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client
