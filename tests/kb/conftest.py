"""Fixtures of the knowledge-base tests; resource builders live in ``tests.kb.kb_builders``."""

from __future__ import annotations

import pytest

from rules.catalogue import Catalogue, load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()
