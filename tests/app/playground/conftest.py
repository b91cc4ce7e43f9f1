"""Fixtures for the playground tests: the live service and Debian's Chromium via Playwright.

Without /usr/bin/chromium the browser tests are skipped, except when
`OPIOID_CDS_REQUIRE_BROWSER=1` (CI sets it): then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest

from tests.app.live_server import LiveService, live_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _browser_required() -> bool:
    return os.environ.get("OPIOID_CDS_REQUIRE_BROWSER", "") in ("1", "true", "yes")


def browser_unavailable(reason: str) -> NoReturn:
    message = f"browser tests need Debian's Chromium: {reason} (apt-get install chromium)"
    if _browser_required():
        pytest.fail(f"{message}; OPIOID_CDS_REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(message)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with live_service(tmp_path_factory.mktemp("playground")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
        browser_unavailable(f"playwright is not installed ({exc})")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class PlaygroundPage:
    """A fresh page that may only talk to the service. Any other request is aborted and
    listed in `external_requests` (the playground must work offline); uncaught script errors
    are listed in `script_errors`."""

    page: Page
    service: LiveService
    external_requests: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(f"{self.service.base_url}/playground")
        self.page.wait_for_selector("body[data-ready='true']")


@pytest.fixture
def playground(service: LiveService, browser: Browser) -> Iterator[PlaygroundPage]:
    context = browser.new_context()
    allowed = urlsplit(service.base_url).netloc
    result = PlaygroundPage(context.new_page(), service)

    def guard(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == allowed or url.startswith(("data:", "about:")):
            route.continue_()
        else:
            result.external_requests.append(url)
            route.abort()

    context.route("**/*", guard)
    result.page.on("pageerror", lambda error: result.script_errors.append(str(error)))
    try:
        yield result
    finally:
        context.close()
