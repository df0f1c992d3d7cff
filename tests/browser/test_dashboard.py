"""The dashboard in a real browser (headless Chromium) against the real local pipeline.

Kafka, the producer (simulated market), the Spark job and the API each run as their own process
(``tests/support/stages.py``), so the last tests can stop the API (or the producer) and start it
again on the same port while the page stays open. The tests share one pipeline and run in file
order. Nothing here asserts a duration: each wait has a generous
deadline and fails only if what it waits for never happens.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from cryptopulse_common.contract import DEFAULT_COIN_IDS
from tests.browser.conftest import ARTIFACTS, PHONE, PageErrors, open_context
from tests.support.stages import Stages

pytestmark = pytest.mark.e2e

# The stream job's first aggregates take 20-40 s on an idle machine; CI shares two cores.
FIRST_DATA_MS = 240_000
# A new 30 s window, or a new micro-batch after a restart, on a busy machine.
NEXT_DATA_MS = 120_000
STATUS = '[data-testid="connection-status"]'
LAST_UPDATE = '[data-testid="last-update"]'


def row(page: Page, coin_id: str) -> str:
    return f'tbody tr[data-coin-id="{coin_id}"]'


def open_live(page: Page, pipeline: Stages) -> None:
    """Open the dashboard and wait until every coin has a row and the status is live."""
    pipeline.assert_running("api", "stream", "producer")
    page.goto(pipeline.api_url + "/")
    expect(page.locator("h1")).to_have_text("Crypto Market Pulse")
    try:
        expect(page.locator("tbody tr[data-coin-id]")).to_have_count(
            len(DEFAULT_COIN_IDS), timeout=FIRST_DATA_MS
        )
    except AssertionError as error:
        raise AssertionError(f"no rows for every coin:\n{pipeline.logs()}") from error
    expect(page.locator(STATUS)).to_have_text("live", timeout=NEXT_DATA_MS)


def newest_timestamp(page: Page) -> datetime:
    text = page.locator(LAST_UPDATE).get_attribute("data-timestamp")
    assert text, "the dashboard shows no data time"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_prices_appear_and_change(page: Page, pipeline: Stages) -> None:
    expect_status = page.locator(STATUS)
    page.goto(pipeline.api_url + "/")
    expect(expect_status).to_have_text(re.compile(r"connecting|live"))
    open_live(page, pipeline)

    price = page.locator(f"{row(page, 'bitcoin')} td.price")
    expect(price).to_have_text(re.compile(r"^\$\d{1,3}(,\d{3})*\.\d{2}$"))
    first = price.inner_text()
    expect(price).not_to_have_text(first, timeout=NEXT_DATA_MS)

    # The rest of the screen is fed by the same data.
    expect(page.locator('[data-testid="overview-volume"] dd')).to_have_text(re.compile(r"^\$"))
    gainers = int(page.locator('[data-testid="overview-gainers"] dd').inner_text())
    losers = int(page.locator('[data-testid="overview-losers"] dd').inner_text())
    assert gainers + losers <= len(DEFAULT_COIN_IDS)
    expect(page.locator('[data-testid="compare-bars"] li')).to_have_count(len(DEFAULT_COIN_IDS))
    expect(page.locator(LAST_UPDATE)).to_have_text(re.compile(r"^Data as of "))
    age = page.locator('[data-testid="data-age"]')
    expect(age).to_have_text(re.compile(r"^updated \d+ s ago$"))


def test_sorting_with_the_keyboard(page: Page, pipeline: Stages) -> None:
    open_live(page, pipeline)
    header = page.locator('thead button[data-sort-key="coin"]')
    header.focus()
    page.keyboard.press("Enter")
    expect(page.locator('th:has(button[data-sort-key="coin"])')).to_have_attribute(
        "aria-sort", "ascending"
    )
    symbols = page.locator("tbody tr[data-coin-id] button.select-coin").all_inner_texts()
    assert symbols == sorted(symbols, key=str.casefold)


def test_selecting_a_coin_shows_its_candles(page: Page, pipeline: Stages) -> None:
    open_live(page, pipeline)
    chart = page.locator('[data-testid="price-chart"]')
    expect(chart).to_have_attribute("data-coin-id", "bitcoin")

    # By keyboard: the symbol of each row is a button.
    page.locator(f"{row(page, 'ethereum')} button.select-coin").focus()
    page.keyboard.press("Enter")
    expect(chart).to_have_attribute("data-coin-id", "ethereum")
    expect(page.locator("#coin-heading")).to_have_text("ETH · Ethereum")
    assert page.evaluate("location.hash") == "#coin=ethereum"

    # With the selector, and then candles of more than one window (backfilled or live).
    page.locator('select[data-testid="coin-select"]').select_option("solana")
    expect(chart).to_have_attribute("data-coin-id", "solana")
    expect(page.locator(f'{row(page, "solana")}[data-selected="true"]')).to_have_count(1)
    expect(chart).to_have_attribute("data-style", "candles")
    several = re.compile(r"^([2-9]|\d{2,})$")
    expect(chart).to_have_attribute("data-points", several, timeout=NEXT_DATA_MS)
    expect(chart.locator("canvas").first).to_be_visible()
    box = chart.bounding_box()
    assert box is not None
    assert box["height"] > 100

    page.locator('label:has(input[name="chart-style"][value="line"])').click()
    expect(chart).to_have_attribute("data-style", "line")
    expect(page.locator("td.sparkline[data-points]")).to_have_count(len(DEFAULT_COIN_IDS))


def test_numbers_follow_the_readers_locale(
    browser: Browser, page_errors: PageErrors, pipeline: Stages
) -> None:
    context = open_context(browser, page_errors, locale="de-DE")
    try:
        page = context.new_page()
        open_live(page, pipeline)
        # German: dot for thousands, comma for decimals, the currency sign after the number.
        price = page.locator(f"{row(page, 'bitcoin')} td.price")
        expect(price).to_have_text(re.compile(r"^\d{1,3}(\.\d{3})*,\d{2}\s\$$"))
        change = page.locator(f"{row(page, 'bitcoin')} td.change")
        expect(change).to_have_text(re.compile(r"^[+-]?\d+,\d{2}\s%$"))
    finally:
        context.close()
    assert list(page_errors) == []


def test_screenshots_light_dark_and_phone(
    browser: Browser, page_errors: PageErrors, pipeline: Stages
) -> None:
    """Saved to test-artifacts/ for a person to look at; the phone must not scroll sideways."""
    ARTIFACTS.mkdir(exist_ok=True)
    shots = [
        ("dashboard-light", None, "light"),
        ("dashboard-dark", None, "dark"),
        ("dashboard-phone", PHONE, "light"),
        ("dashboard-phone-dark", PHONE, "dark"),
    ]
    for name, viewport, scheme in shots:
        # Reduced motion: no price flash caught half-way in the picture.
        context = open_context(
            browser, page_errors, viewport=viewport, color_scheme=scheme, reduced_motion="reduce"
        )
        try:
            page = context.new_page()
            open_live(page, pipeline)
            expect(page.locator('[data-testid="price-chart"] canvas').first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            overflow = page.evaluate(
                "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
            )
            assert overflow == 0, f"{name}: the page scrolls sideways by {overflow}px"
        finally:
            context.close()
    assert list(page_errors) == []


def test_api_restart_shows_reconnecting_then_live_with_fresh_data(
    page: Page, pipeline: Stages
) -> None:
    open_live(page, pipeline)
    status = page.locator(STATUS)
    before = newest_timestamp(page)

    assert pipeline.stop("api") is not None
    expect(status).to_have_text(re.compile(r"^reconnecting \(attempt \d+\)$"), timeout=60_000)
    expect(page.locator("#app")).to_have_attribute("data-status", "reconnecting")
    # The rows stay on screen while the API is away.
    expect(page.locator("tbody tr[data-coin-id]")).to_have_count(len(DEFAULT_COIN_IDS))

    pipeline.start("api")
    pipeline.wait_api_healthy()
    expect(status).to_have_text("live", timeout=NEXT_DATA_MS)
    page.wait_for_function(
        """([selector, before]) => {
            const text = document.querySelector(selector)?.dataset.timestamp;
            return text !== undefined && Date.parse(text) > before;
        }""",
        arg=[LAST_UPDATE, before.timestamp() * 1000],
        timeout=NEXT_DATA_MS,
    )
    assert newest_timestamp(page) > before
    expect(status).to_have_text("live")
    pipeline.assert_running("stream", "producer")


def test_a_silent_market_turns_stale_and_back_to_live(page: Page, pipeline: Stages) -> None:
    """No new records for two windows (60 s) over a live socket: `stale`, with the data's age."""
    open_live(page, pipeline)
    status = page.locator(STATUS)
    age = page.locator('[data-testid="data-age"]')

    pipeline.stop("producer")
    expect(status).to_have_text("stale", timeout=FIRST_DATA_MS)
    expect(age).to_have_attribute("data-stale", "true")
    expect(age).to_have_text(re.compile(r"^updated \d+ min \d\d s ago$"))
    assert page.title().startswith("(stale) ")
    # The numbers stay on screen.
    expect(page.locator("tbody tr[data-coin-id]")).to_have_count(len(DEFAULT_COIN_IDS))

    pipeline.start("producer")
    expect(status).to_have_text("live", timeout=NEXT_DATA_MS)
    expect(age).not_to_have_attribute("data-stale", "true")
    pipeline.assert_running("api", "stream", "producer")
