"""The report page (/reports) in Debian's Chromium: a known history (the report tests'
scenario), the page behind its token, charts drawn, nothing loaded from elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route

from app.db import migrate
from tests.app.live_server import LiveService, live_service
from tests.app.reports.scenario import BASELINE_DAYS_AGO, SMALL_PRACTICE, feed_history

pytestmark = pytest.mark.browser

TOKEN = "reports-token-for-the-browser-test"


@pytest.fixture(scope="module")
def report_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    directory = tmp_path_factory.mktemp("reports")
    url = f"sqlite+aiosqlite:///{directory / 'service.sqlite3'}"
    migrate(url)
    feed_history(url)
    with live_service(directory, reports_token=TOKEN) as running:
        yield running


def test_the_report_page_shows_charts_offline(
    report_service: LiveService, browser: Browser, tmp_path: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 1100, "height": 900},
        extra_http_headers={"Authorization": f"Bearer {TOKEN}"},
    )
    allowed = urlsplit(report_service.base_url).netloc
    external: list[str] = []
    errors: list[str] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).netloc == allowed:
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text))  # e.g. a CSP refusal
    baseline = (date.today() - timedelta(days=BASELINE_DAYS_AGO)).isoformat()
    try:
        response = page.goto(f"{report_service.base_url}/reports?baseline_until={baseline}")
        assert response is not None and response.status == 200
        assert page.locator("h1").inner_text() == "Opioid prescribing against the agreements"
        charts = page.locator("svg[role=img]")
        assert charts.count() == 3
        # The trend has the months from 200 days ago to now, and marks the evaluation points.
        trend = charts.nth(0)
        assert trend.locator("rect").count() >= 3
        assert trend.locator("text", has_text="4 months").count() == 1
        # The style sheet applied (the CSP allows it by its hash): the region row is bold.
        weight = page.locator("tr.region td").first.evaluate(
            "cell => getComputedStyle(cell).fontWeight"
        )
        assert weight == "600"
        # The small practice's 2 accepted cards are "<5" in the summary table.
        row = page.locator("tr", has_text=SMALL_PRACTICE).first
        assert "<5" in row.inner_text()
        shot = tmp_path / "reports.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        keep = os.environ.get("OPIOID_CDS_SCREENSHOT_DIR")
        if keep:  # to look at it: OPIOID_CDS_SCREENSHOT_DIR=/tmp/shots make pytest
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / "reports.png").write_bytes(shot.read_bytes())
        assert external == []
        assert errors == []
    finally:
        context.close()


def test_the_report_page_without_the_token_is_a_401(
    report_service: LiveService, browser: Browser
) -> None:
    context = browser.new_context()
    try:
        response = context.new_page().goto(f"{report_service.base_url}/reports")
        assert response is not None and response.status == 401
    finally:
        context.close()
