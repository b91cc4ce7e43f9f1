"""Oversized headers get a 431 with an OperationOutcome, from a real uvicorn on loopback run as
the Dockerfile runs it (red team finding, issue 14: a 1 MB token got a plain-text 400)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.db import migrate
from app.main import create_app
from app.middleware import H11_MAX_INCOMPLETE_EVENT_SIZE, MAX_HEADER_BYTES
from app.settings import Settings
from tests.app.live_server import serving

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('headers') / 'db.sqlite3'}"
    migrate(database_url)
    app = create_app(Settings(database_url=database_url, log_level="WARNING"))
    with serving(
        app, log_level="warning", h11_max_incomplete_event_size=H11_MAX_INCOMPLETE_EVENT_SIZE
    ) as url:
        yield url


def _call_with_token(base_url: str, token_bytes: int) -> httpx.Response:
    return httpx.get(
        f"{base_url}/cds-services",
        headers={"Authorization": f"Bearer {'a' * token_bytes}"},
        timeout=10,
    )


def test_a_64_kb_token_gets_431_with_an_operation_outcome(base_url: str) -> None:
    response = _call_with_token(base_url, 64 * 1024)
    assert response.status_code == 431
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "too-costly"
    assert str(MAX_HEADER_BYTES) in outcome["issue"][0]["diagnostics"]


def test_headers_under_the_limit_are_read(base_url: str) -> None:
    # A 20 KB token is past uvicorn's default limit (16 KiB) but under ours: it is verified
    # (and refused: no client is trusted here).
    assert _call_with_token(base_url, 20 * 1024).status_code == 401


def test_a_head_beyond_what_uvicorn_buffers_is_refused_by_uvicorn(base_url: str) -> None:
    """The documented remainder: past H11_MAX_INCOMPLETE_EVENT_SIZE uvicorn answers 400 itself
    and closes the connection (often before the client has sent it all: a reset)."""
    try:
        status = _call_with_token(base_url, 1024 * 1024).status_code
    except (httpx.ReadError, httpx.WriteError):
        status = 400
    assert status == 400
    assert _call_with_token(base_url, 10).status_code == 401  # and the service goes on


@pytest.mark.parametrize("path", ["Dockerfile", "Makefile", "docs/authentication.md"])
def test_every_way_to_run_the_service_sets_the_uvicorn_limit(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    sizes = re.findall(r"--h11-max-incomplete-event-size (\d+)", text)
    assert sizes == [str(H11_MAX_INCOMPLETE_EVENT_SIZE)]
