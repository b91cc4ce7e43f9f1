"""`/docs` in Debian's Chromium with every request off the service aborted: Swagger UI
renders from the package and shows the hook's request body and statuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.app.playground.conftest import PlaygroundPage

pytestmark = pytest.mark.browser


def test_docs_render_offline_with_the_hook_body_and_statuses(
    playground: PlaygroundPage, tmp_path: Path
) -> None:
    page = playground.page
    page.goto(f"{playground.service.base_url}/")  # the root leads to the playground
    assert page.url.endswith("/playground")
    page.goto(f"{playground.service.base_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Opioid CDS")
    hook = page.locator("#operations-CDS_Hooks-call_service_cds_services__service_id__post")
    expect(hook).to_be_visible()
    hook.locator(".opblock-summary").click()
    expect(hook.locator(".opblock-section-request-body")).to_contain_text("hookInstance")
    statuses = hook.locator(".responses-table tr.response").evaluate_all(
        "rows => rows.map(row => row.getAttribute('data-code'))"
    )
    assert statuses == ["200", "400", "401", "404", "412", "413", "415", "503"]
    page.screenshot(path=str(os.environ.get("OPIOID_CDS_DOCS_SCREENSHOT", tmp_path / "docs.png")))
    assert playground.external_requests == []
    assert playground.script_errors == []
