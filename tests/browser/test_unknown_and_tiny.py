"""A coin priced 1.234e-08 with an unknown 24 h change, and one with a known change but no
volume, in a real browser (headless Chromium) fed by a real API: significant digits in the
table, the coin panel, the chart's description and the alerts; "—" and no label for what the
source does not know (issue 11). The records are POSTed to ``/ingest`` as the stream job posts
them; no Spark is needed to show what the screen does with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from cryptopulse_common.contract import format_timestamp
from tests.api.conftest import Api, aggregate, running_api
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

TINY = "tiny-listing"
TINY_PRICE = "$0.00000001234"
WINDOW = timedelta(seconds=30)


@pytest.fixture(scope="module")
def api(dashboard_dist: Path) -> Iterator[Api]:
    with running_api(api_dashboard_dir=str(dashboard_dist)) as running:
        yield running


def window(
    coin_id: str, start: datetime, open_: float, close: float, **changes: Any
) -> dict[str, Any]:
    low, high = min(open_, close), max(open_, close)
    return aggregate(
        coin_id,
        close,
        open=open_,
        high=high,
        low=low,
        close=close,
        mean_price=(open_ + close) / 2,
        window_start=format_timestamp(start),
        window_end=format_timestamp(start + WINDOW),
        timestamp=format_timestamp(start + WINDOW - timedelta(seconds=1)),
        **changes,
    )


def post(api: Api, records: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{api.url}/ingest", json={"data": records})
    assert response.status_code == 200, response.text


def test_tiny_prices_keep_their_digits_and_unknowns_stay_unknown(page: Page, api: Api) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - 3 * WINDOW
    unknown = {"change_24h": None, "volatility": None, "trend": None}
    post(
        api,
        [
            window("bitcoin", first, 97_000.0, 97_100.0),
            window(TINY, first, 1.1e-8, 1.1e-8, **unknown),
        ],
    )
    page.goto(api.url + "/")
    expect(page.locator(f'tbody tr[data-coin-id="{TINY}"]')).to_have_count(1)
    # The next window moves 12 %: a window-move alert, with the tiny price.
    post(
        api,
        [
            window("bitcoin", first + WINDOW, 97_100.0, 97_150.0),
            window(
                TINY, first + WINDOW, 1.1e-8, 1.234e-8, volume_24h=None, market_cap=None, **unknown
            ),
        ],
    )
    row = page.locator(f'tbody tr[data-coin-id="{TINY}"]')
    expect(row.locator("td.price")).to_have_text(TINY_PRICE)
    cells = row.locator("td")
    expect(row.locator("td.price")).to_have_text(TINY_PRICE)
    expect(row).to_contain_text("$0.00000001100")  # the window's low
    expect(row).not_to_contain_text(re.compile(r"\$0\.00(?![0-9])"))  # "$0.00": the old bug
    expect(row).not_to_contain_text("Stable")
    texts = [text.strip() for text in cells.all_inner_texts()]
    assert texts.count("—") >= 4, texts  # change, market cap, volatility, trend
    alert = page.locator("text=TIN moved")
    expect(alert).to_have_text(f"TIN moved +12.18% in one window, to {TINY_PRICE}")
    # The overview averages only known changes and counts the unknown as neither gainer nor loser.
    expect(page.locator('[data-testid="overview-gainers"] dd')).to_have_text("1")
    expect(page.locator('[data-testid="overview-losers"] dd')).to_have_text("0")

    page.locator('[data-testid="coin-select"]').select_option(TINY)
    chart = page.locator('[data-testid="price-chart"]')
    expect(chart).to_have_attribute("data-coin-id", TINY)
    expect(chart).to_have_attribute(
        "aria-label", re.compile(rf"opened at \$0\.00000001100, now \{TINY_PRICE}$")
    )
    panel = page.locator("main")
    expect(panel).to_contain_text(f"{TINY_PRICE} — 24h")
    expect(panel).to_contain_text(
        f"open $0.00000001100 · high {TINY_PRICE} · low $0.00000001100 · close {TINY_PRICE}"
    )
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.3)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tiny-price-and-unknown-change.png"), full_page=True)
