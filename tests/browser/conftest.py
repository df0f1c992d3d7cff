"""Fixtures of the browser tests: the dashboard built from source, the pipeline, Chromium.

The browser is Debian's Chromium (`/usr/bin/chromium`, installed by `scripts/setup.sh dev`),
driven headless by Playwright; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from cryptopulse_local.settings import REPO_ROOT
from tests.support.stages import Stages, running_stages

CHROMIUM = os.environ.get("CRYPTOPULSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DASHBOARD_DIR = REPO_ROOT / "services" / "dashboard"
ARTIFACTS = REPO_ROOT / "test-artifacts"
DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def dashboard_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard built from the current source (never a stale ``dist/``)."""
    vite = DASHBOARD_DIR / "node_modules" / ".bin" / "vite"
    if not vite.exists():
        pytest.fail(f"{vite} is missing: run `npm ci` in {DASHBOARD_DIR} (make setup-dev does)")
    out = tmp_path_factory.mktemp("dashboard-dist")
    subprocess.run(
        [str(vite), "build", "--outDir", str(out), "--emptyOutDir", "--logLevel", "warn"],
        cwd=DASHBOARD_DIR,
        check=True,
        timeout=300,
    )
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, dashboard_dist: Path) -> Iterator[Stages]:
    """Kafka, API (serving the dashboard), stream job and producer, each its own process."""
    state = tmp_path_factory.mktemp("state")
    with running_stages(state, API_DASHBOARD_DIR=str(dashboard_dist)) as stages:
        yield stages


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make setup-dev does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


class PageErrors(list[str]):
    """Uncaught exceptions of a page's scripts: a test fails when there are any.

    Console errors are not counted: Chromium logs each refused WebSocket connection (the
    restart test causes them on purpose) and each 404 as one.
    """


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


def open_context(
    browser: Browser,
    errors: PageErrors,
    *,
    viewport: dict[str, int] | None = None,
    color_scheme: str = "light",
    locale: str = "en-US",
    reduced_motion: str = "no-preference",
) -> BrowserContext:
    context = browser.new_context(
        viewport=viewport or DESKTOP,  # type: ignore[arg-type]
        locale=locale,
        reduced_motion=reduced_motion,  # type: ignore[arg-type]
        timezone_id="UTC",
        color_scheme=color_scheme,  # type: ignore[arg-type]
    )
    context.on("weberror", lambda error: errors.append(f"uncaught: {error.error}"))
    return context


@pytest.fixture
def page(
    browser: Browser, page_errors: PageErrors, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh desktop-sized page; on failure its screenshot lands in ``test-artifacts/``."""
    context = open_context(browser, page_errors)
    page = context.new_page()
    try:
        yield page
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert list(page_errors) == [], "the page reported errors"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each test's call report on its item, for the failure screenshot."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
