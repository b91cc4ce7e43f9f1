"""docs/integration.md §3 lists the prefetch templates an integrator must resolve: it is
checked against what discovery advertises, key by key and service by service."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
TABLE_ROW = re.compile(r"^\| `(?P<key>\w+)` \| `(?P<template>[^`]+)` \|", re.MULTILINE)
SUBSET = re.compile(
    r"`(?P<hook>[\w-]+)` uses (?:the subset )?(?P<keys>(?:`\w+`(?:,\s*|\s+and\s+)?)+)"
)
KEY = re.compile(r"`(\w+)`")


def _section(text: str) -> str:
    return text.split("## 3. Prefetch", 1)[1].split("\n## ", 1)[0]


def _advertised(client: TestClient) -> dict[str, dict[str, str]]:
    services = client.get("/cds-services").json()["services"]
    return {service["hook"]: service.get("prefetch", {}) for service in services}


def test_the_documented_order_sign_templates_are_the_advertised_ones(client: TestClient) -> None:
    section = _section(DOC.read_text(encoding="utf-8"))
    documented = {
        match["key"]: match["template"].replace("\\|", "|") for match in TABLE_ROW.finditer(section)
    }
    assert documented == _advertised(client)["order-sign"]


def test_the_documented_subsets_are_the_advertised_keys(client: TestClient) -> None:
    section = _section(DOC.read_text(encoding="utf-8"))
    advertised = _advertised(client)
    subsets = {match["hook"]: KEY.findall(match["keys"]) for match in SUBSET.finditer(section)}

    assert set(subsets) == set(advertised) - {"order-sign"}
    for hook, keys in subsets.items():
        assert sorted(keys) == sorted(advertised[hook]), hook
