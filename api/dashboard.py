"""`GET /` and `/static/...`: the live dashboard, a single page of plain HTML, CSS and JavaScript.

Everything it loads ships in `api/static/`; nothing is fetched from outside the deployment."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
# The page is small and changes with the code: browsers revalidate instead of caching stale JS.
NO_CACHE = {"Cache-Control": "no-cache"}


async def dashboard(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=NO_CACHE)


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/", dashboard),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
