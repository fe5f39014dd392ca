"""Connection bounds of one API process: past `api_max_connections` a request is answered at
once with 503, and the process serves again as soon as the flood goes away."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.settings import MakeSettings
from tests.support.websocket_harness import client, receive, running_api

LIMIT = 8


async def test_connections_past_the_limit_get_503_and_service_resumes_after_the_flood(
    make_settings: MakeSettings,
) -> None:
    async with running_api(make_settings(api_max_connections=LIMIT)) as server:
        flood = [
            await asyncio.open_connection("127.0.0.1", int(server.http_url.rsplit(":", 1)[1]))
            for _ in range(LIMIT)
        ]  # connected and silent: what a slow-headers flood is
        try:
            async with httpx.AsyncClient(base_url=server.http_url, timeout=5) as http:
                refused = await http.get("/health")
            assert refused.status_code == 503
        finally:
            for _, writer in flood:
                writer.close()
                await writer.wait_closed()
        async with httpx.AsyncClient(base_url=server.http_url, timeout=5) as http:
            for _ in range(50):  # the server notices the closed sockets within a few turns
                answer = await http.get("/health")
                if answer.status_code == 200:
                    break
            assert answer.status_code == 200
        async with client(f"{server.ws_url}/api/orders/stream/all") as ws:
            assert (await receive(ws))["type"] == "connected"
