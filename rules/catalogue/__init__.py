"""Terminology catalogue: opioid substances, products, release forms, condition sets, roles.

All domain numbers and code lists live in ``data/*.csv|yaml`` with their source; this package
only loads them once into fast lookups. Public API: ``Catalogue`` and ``load_catalogue``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["Catalogue", "load_catalogue"]


class Catalogue:
    """Loaded terminology (implementation in progress)."""


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load (once, cached per path) the catalogue; default: the package data directory."""
    raise NotImplementedError
