"""Without Chromium the browser tests skip on a developer machine but fail under CI."""

from __future__ import annotations

import pytest

from tests.app.playground.conftest import browser_unavailable


def test_missing_chromium_fails_when_ci_requires_the_browser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPIOID_CDS_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="OPIOID_CDS_REQUIRE_BROWSER=1 forbids"):
        browser_unavailable("/usr/bin/chromium is missing")


def test_missing_chromium_skips_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPIOID_CDS_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        browser_unavailable("/usr/bin/chromium is missing")
