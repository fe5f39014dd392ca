"""The dashboard in headless Chromium against real servers: `oee api`, `oee process` and
`oee project` as subprocesses, with a key prefix and a migrated schema of the test's own.

Chromium is Debian's (`/usr/bin/chromium`, installed by scripts/browser.sh); Playwright never
downloads a browser. Screenshots go to `artifacts/`: dashboard.png; at 390 px wide,
dashboard-phone.png and its orders and detail cards alone (dashboard-phone-orders.png,
dashboard-phone-detail.png)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Response,
    expect,
    sync_playwright,
)

from schema.migrate import migrate
from tests.support.running_engine import running_engine

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TERMINAL = re.compile(r"^(confirmed|failed|cancelled|expired)$")
WAIT_MS = 20_000

# Outside CI a machine without chromium skips these; in CI (where scripts/browser.sh installs it)
# a missing browser fails them instead of hiding them.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"), reason="needs Debian's chromium package"
)


@pytest.fixture
def engine_url(server_urls: tuple[str, str], database_url: str) -> Iterator[str]:
    """The base URL of a running engine: API, processor and projector, all real."""
    migrate(database_url)
    with running_engine(
        server_urls[0],
        database_url,
        key_prefix=f"dash{uuid.uuid4().hex[:10]}",
        env={"OEE_VENUE_SWAP_LATENCY_MAX_MS": "50"},
    ) as url:
        yield url


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1366, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def load_problems() -> list[str]:
    """What went wrong as the page loaded and ran: console errors, failed or 4xx/5xx requests."""
    return []


@pytest.fixture
def page(browser_context: BrowserContext, engine_url: str, load_problems: list[str]) -> Page:
    page = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    page.set_default_timeout(WAIT_MS)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            load_problems.append(f"console: {message.text}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            load_problems.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    page.on("requestfailed", lambda request: load_problems.append(f"failed {request.url}"))
    page.goto(engine_url)
    expect(page.locator("#stream-state")).to_have_text("Stream: live")
    return page


def _rows(page: Page) -> Locator:
    return page.locator("#orders-body tr")


def test_order_from_the_form_runs_to_its_end_and_shows_its_quotes(page: Page) -> None:
    p = page
    expect(p.locator("#health")).to_contain_text("Redis: up")
    expect(p.locator("#health")).to_contain_text("PostgreSQL: up")
    expect(p.locator("#health")).to_contain_text("execution: up · 1 consumer")
    expect(p.locator("#prices-body tr").first).to_contain_text("/")

    p.get_by_label("Amount in").fill("0.25")
    p.get_by_role("button", name="Place order").click()
    expect(p.locator("#place-result")).to_contain_text("accepted")
    row = _rows(p).first
    expect(row).to_have_attribute("data-status", "confirmed", timeout=WAIT_MS)
    expect(row).to_contain_text("SOL → USDC")

    row.focus()
    row.press("Enter")
    detail = p.locator("#detail")
    expect(detail).to_be_visible()
    expect(p.locator("#detail-heading")).to_be_focused()
    quotes = p.locator("#quotes-body tr")
    expect(quotes.filter(has_text="raydium").first).to_be_visible()
    expect(quotes.filter(has_text="meteora").first).to_be_visible()
    expect(p.locator("#quotes-body tr.chosen")).to_have_count(1)
    expect(p.locator("#detail-reason")).to_contain_text("Route chosen")
    timeline = p.locator("#timeline")
    for event in ("OrderPlaced", "RouteSelected", "TransactionSubmitted", "OrderConfirmed"):
        expect(timeline).to_contain_text(event)

    p.get_by_label("Amount in").fill("0")
    p.get_by_role("button", name="Place order").click()
    expect(p.locator("#amountIn-error")).to_contain_text("greater than 0")
    expect(p.get_by_label("Amount in")).to_have_attribute("aria-invalid", "true")
    confirmed = p.locator('#metrics [data-metric="Confirmed"] dd')
    expect(confirmed).to_have_text("1")

    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_a_limit_order_from_the_form_rests_open_and_its_cancel_button_cancels_it(
    page: Page,
) -> None:
    p = page
    p.get_by_label("Order type").select_option("limit")
    p.get_by_label("Amount in").fill("0.5")
    p.get_by_label("Limit price").fill("5000")  # far above the market: it rests
    p.get_by_label("Expires in (seconds)").fill("600")
    p.get_by_role("button", name="Place order").click()
    expect(p.locator("#place-result")).to_contain_text("accepted")
    row = _rows(p).first
    expect(row).to_have_attribute("data-status", "open", timeout=WAIT_MS)
    row.click()
    expect(p.locator("#detail-summary")).to_contain_text("5000")
    cancel = p.get_by_role("button", name="Cancel order")
    expect(cancel).to_be_visible()
    cancel.click()
    expect(p.locator("#detail-cancel-result")).to_have_text("Cancelled.")
    expect(row).to_have_attribute("data-status", "cancelled", timeout=WAIT_MS)
    expect(cancel).to_be_hidden()


def test_a_sniper_order_from_the_form_fills_when_the_launch_form_opens_its_pool(
    page: Page,
) -> None:
    p = page
    symbol = "Z" + uuid.uuid4().hex[:5].upper()
    p.get_by_label("Order type").select_option("sniper")
    p.get_by_label("Amount in").fill("0.5")
    p.get_by_label("New token (sniper)").fill(symbol)
    p.get_by_role("button", name="Place order").click()
    expect(p.locator("#place-result")).to_contain_text("accepted")
    row = _rows(p).first
    expect(row).to_have_attribute("data-status", "open", timeout=WAIT_MS)
    expect(row).to_contain_text(f"SOL → {symbol}")

    p.get_by_label("New token (token B)").fill(symbol)
    p.get_by_role("button", name="Launch pool").click()
    expect(p.locator("#launch-result")).to_have_text(f"Pool SOL/{symbol} launched on raydium.")
    expect(row).to_have_attribute("data-status", "confirmed", timeout=WAIT_MS)
    expect(p.get_by_label("Buy (token out)").locator(f'option[value="{symbol}"]')).to_have_count(1)


# Every shown element whose box leaves the viewport's width, or whose content is wider than its
# box (something clipped or behind a sideways scroll).
WIDER_THAN_ROOM = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  for (const node of document.querySelectorAll("body *")) {
    const box = node.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown
    if (box.right <= 0) continue;  // off-screen on purpose: the skip link until it has focus
    const name = node.tagName.toLowerCase() + (node.id ? "#" + node.id : "")
      + (node.classList.length ? "." + [...node.classList].join(".") : "");
    if (box.left < -1 || box.right > width + 1) {
      found.push(`${name} spans ${Math.round(box.left)}..${Math.round(box.right)} of ${width} px`);
    }
    const inline = getComputedStyle(node).display === "inline";
    if (!inline && node.clientWidth > 0 && node.scrollWidth > node.clientWidth + 1) {
      found.push(`${name} holds ${node.scrollWidth} px in ${node.clientWidth} px`);
    }
  }
  return found;
}"""


def _inside(inner: Locator, outer: Locator) -> bool:
    a, b = inner.bounding_box(), outer.bounding_box()
    assert a is not None
    assert b is not None
    return b["x"] - 1 <= a["x"] and a["x"] + a["width"] <= b["x"] + b["width"] + 1


def test_a_phone_sees_every_column_of_orders_and_quotes_without_scrolling(page: Page) -> None:
    p = page
    p.set_viewport_size({"width": 390, "height": 844})
    p.get_by_role("button", name="5 concurrent").click()
    expect(p.locator("#orders-body tr[data-status=confirmed]")).to_have_count(5)
    orders_box = p.locator(".orders .table-scroll")
    for index in range(5):
        elapsed = _rows(p).nth(index).locator('td[data-label="Elapsed"]')
        expect(elapsed).to_have_text(re.compile(r"^\d+\.\d+ s$"))
        expect(elapsed).to_be_visible()
        assert _inside(elapsed, orders_box), f"row {index}: Elapsed is cut off"

    _rows(p).first.click()
    expect(p.locator("#detail")).to_be_visible()
    expect(p.locator("#quotes-body tr.chosen")).to_have_count(1)
    quotes_box = p.get_by_role("region", name="Quotes compared")
    quotes = p.locator("#quotes-body tr")
    for index in range(quotes.count()):
        for label in ("Fee", "Price impact"):
            cell = quotes.nth(index).locator(f'td[data-label="{label}"]')
            expect(cell).to_be_visible()
            expect(cell).to_have_text(re.compile(r"\d"))
            assert _inside(cell, quotes_box), f"quote {index}: {label} is cut off"
    chosen = p.locator('#quotes-body tr.chosen td[data-label="Chosen"]')
    expect(chosen).to_be_visible()
    expect(chosen).to_have_text("✓ chosen")
    assert _inside(chosen, quotes_box)

    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    p.locator("#detail").screenshot(path=str(ARTIFACTS / "dashboard-phone-detail.png"))
    p.locator(".orders").screenshot(path=str(ARTIFACTS / "dashboard-phone-orders.png"))
    assert p.evaluate(WIDER_THAN_ROOM) == []


def test_a_page_load_logs_no_error_and_requests_nothing_missing(
    page: Page, load_problems: list[str]
) -> None:
    expect(page.locator("#health")).to_contain_text("Redis: up")
    expect(page.locator("#prices-body tr").first).to_contain_text("/")
    page.wait_for_load_state("networkidle")  # the favicon is asked for after the load event
    assert load_problems == []
    icon = page.evaluate(
        """async () => {
            const image = new Image();
            image.src = document.querySelector("link[rel=icon]").href;
            await image.decode();
            return image.complete;
        }"""
    )
    assert icon is True, "the page's icon does not decode as an image"


def test_a_field_error_goes_once_the_field_is_fixed(page: Page) -> None:
    p = page
    amount = p.get_by_label("Amount in")
    amount.fill("0")
    p.get_by_role("button", name="Place order").click()
    expect(p.locator("#amountIn-error")).to_have_text("must be greater than 0")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(p.locator("#place-result")).to_have_text("Rejected (VALIDATION_ERROR).")

    amount.fill("0.3")
    expect(p.locator("#amountIn-error")).to_be_hidden()
    expect(p.locator("#amountIn-error")).to_have_text("")
    expect(amount).not_to_have_attribute("aria-invalid", "true")
    expect(p.locator("#place-result")).to_have_text("")

    # The pair's error sits under "Buy" but choosing another token to sell fixes it too.
    p.get_by_label("Buy (token out)").select_option("SOL")
    p.get_by_role("button", name="Place order").click()
    expect(p.locator("#tokenOut-error")).to_contain_text("other than the one sold")
    expect(p.get_by_label("Buy (token out)")).to_have_attribute("aria-invalid", "true")
    p.get_by_label("Sell (token in)").select_option("USDC")
    expect(p.locator("#tokenOut-error")).to_be_hidden()
    expect(p.get_by_label("Buy (token out)")).not_to_have_attribute("aria-invalid", "true")

    p.get_by_role("button", name="Place order").click()
    expect(p.locator("#place-result")).to_contain_text("accepted")
    expect(p.locator("#order-form [aria-invalid=true]")).to_have_count(0)
    expect(p.locator("#order-form .error:visible")).to_have_count(0)


def test_five_concurrent_orders_all_finish(page: Page) -> None:
    page.get_by_role("button", name="5 concurrent").click()
    expect(page.locator("#place-result")).to_have_text("5 of 5 accepted.")
    expect(_rows(page)).to_have_count(5)
    for index in range(5):
        expect(_rows(page).nth(index)).to_have_attribute("data-status", TERMINAL)
    expect(page.locator("#orders-body tr[data-status=confirmed]")).to_have_count(5)


def test_a_dropped_stream_resumes_after_its_last_position_without_losing_rows(
    page: Page, engine_url: str
) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.evaluate("window.oeeDashboard.drop()")
    expect(page.locator("#stream-state")).to_have_text("Stream: paused")
    body = {"orderType": "market", "tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "30"}
    placed = httpx.post(f"{engine_url}/api/orders/execute", json=body, timeout=10).json()
    order_id = placed["orderId"]
    expect(_rows(page)).to_have_count(0)  # nothing arrives while the socket is down

    page.evaluate("window.oeeDashboard.resume()")
    expect(page.locator("#stream-state")).to_have_text("Stream: live")
    row = page.locator(f'#orders-body tr[data-order-id="{order_id}"]')
    expect(row).to_have_attribute("data-status", "confirmed")
    expect(row).to_contain_text("USDC → SOL")
    assert any("after=" in url for url in sockets), sockets


def test_with_keys_on_the_dashboard_asks_for_a_key_once_and_then_works(
    server_urls: tuple[str, str], database_url: str, browser_context: BrowserContext
) -> None:
    migrate(database_url)
    key = "dash-key-0123456789"
    env = {"API_KEYS": f"dash:{key}", "OEE_VENUE_SWAP_LATENCY_MAX_MS": "50"}
    prefix = f"dash{uuid.uuid4().hex[:10]}"
    with running_engine(server_urls[0], database_url, key_prefix=prefix, env=env) as url:
        p = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
        p.set_default_timeout(WAIT_MS)
        p.goto(url)
        form = p.locator("#key-form")
        expect(form).to_be_visible()
        expect(p.locator("#stream-state")).to_have_text("Stream: needs an API key")

        p.get_by_label("This engine needs an API key").fill("wrong-key-0123456789")
        p.get_by_role("button", name="Use key").click()
        expect(p.locator("#key-error")).to_have_text("That key was not accepted.")

        p.get_by_label("This engine needs an API key").fill(key)
        p.get_by_role("button", name="Use key").click()
        expect(form).to_be_hidden()
        expect(p.locator("#stream-state")).to_have_text("Stream: live")
        p.get_by_label("Amount in").fill("0.25")
        p.get_by_role("button", name="Place order").click()
        expect(_rows(p).first).to_have_attribute("data-status", "confirmed", timeout=WAIT_MS)

        p.reload()  # the key is kept for the tab: not asked again
        expect(p.locator("#stream-state")).to_have_text("Stream: live")
        expect(form).to_be_hidden()
        expect(_rows(p).first).to_have_attribute("data-status", "confirmed")
