from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.settings import Settings


def test_production_refuses_the_default_audit_secret() -> None:
    with pytest.raises(ValidationError, match="AUDIT_SECRET"):
        Settings(environment="production")


def test_environment_variables_are_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPIOID_CDS_PORT", "8123")
    monkeypatch.setenv("OPIOID_CDS_DEFAULT_LANGUAGE", "en")

    settings = Settings()

    assert settings.port == 8123
    assert settings.default_language == "en"


def test_cors_allows_any_origin_in_development_with_the_hooks_headers(client: TestClient) -> None:
    response = client.options(
        "/cds-services",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://sandbox.cds-hooks.org")
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_production_allows_no_origin_unless_configured() -> None:
    secret = "x" * 32
    assert Settings(environment="production", audit_secret=secret).allowed_cors_origins == []
    configured = Settings(
        environment="production", audit_secret=secret, cors_origins=["https://his.example.nl"]
    )
    assert configured.allowed_cors_origins == ["https://his.example.nl"]
