"""`GET /` serves the dashboard page and its assets from the package, with nothing from outside."""

from __future__ import annotations

import re
from typing import get_args

import httpx

from api.dashboard import STATIC_DIR
from commands.place_order import PlaceOrder


async def test_the_page_and_its_assets_are_served(api: httpx.AsyncClient) -> None:
    page = await api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert sorted(assets) == ["/static/dashboard.css", "/static/dashboard.js"]
    for asset, kind in zip(sorted(assets), ("text/css", "javascript"), strict=True):
        response = await api.get(asset)
        assert response.status_code == 200
        assert kind in response.headers["content-type"]


# A namespace name, never fetched: the inline SVG favicon must declare it.
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


async def test_nothing_is_loaded_from_another_origin() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text().replace(f"xmlns='{SVG_NAMESPACE}'", "")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import", text), path.name


async def test_every_form_field_has_a_label_and_an_error_slot(api: httpx.AsyncClient) -> None:
    page = (await api.get("/")).text
    for field in (
        "orderType",
        "tokenIn",
        "tokenOut",
        "amountIn",
        "slippage",
        "limitPrice",
        "expiresInSeconds",
        "minLiquidity",
        "newToken",
    ):
        assert f'<label for="{field}">' in page
        assert f'id="{field}-error"' in page
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', page), field


async def test_the_form_offers_exactly_the_order_types_the_api_executes(
    api: httpx.AsyncClient,
) -> None:
    page = (await api.get("/")).text
    select = re.search(r'<select id="orderType"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    offered = set(re.findall(r'<option value="([^"]+)"', select[1]))
    candidates = offered | set(get_args(PlaceOrder.model_fields["order_type"].annotation))
    accepted = set()
    for order_type in sorted(candidates | {"sniper"}):
        body = {"orderType": order_type, "tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1"}
        if order_type == "limit":
            body["limitPrice"] = "1000"
        response = await api.post("/api/orders/execute", json=body)
        if response.status_code == 202:
            accepted.add(order_type)
    assert accepted, "the API accepts no order type at all"
    assert offered == accepted


async def test_an_unknown_asset_is_a_404_in_the_api_envelope(api: httpx.AsyncClient) -> None:
    response = await api.get("/static/nothing-here.js")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
