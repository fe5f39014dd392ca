"""The API app in the test's own process, over httpx's ASGI transport, with its lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from api.app import create_app
from eventlog.settings import Settings


@contextlib.asynccontextmanager
async def in_process_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield client
