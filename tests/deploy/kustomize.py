"""Renders a kustomization the way `kubectl kustomize` does for what deploy/kubernetes uses:
its `resources`, files or directories, in order. Any other field (patches, generators,
labels, images) is refused rather than skipped, so no manifest is validated in a form other
than the one a cluster would get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["listed_files", "render"]

_UNDERSTOOD = {"apiVersion", "kind", "resources"}


def _kustomization(directory: Path) -> dict[str, Any]:
    kustomization: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - _UNDERSTOOD
    if unknown:
        raise ValueError(f"{directory}: the test's renderer does not apply {sorted(unknown)}")
    return kustomization


def listed_files(directory: Path) -> list[Path]:
    """Every manifest file the kustomization lists, through nested kustomizations."""
    files: list[Path] = []
    for entry in _kustomization(directory)["resources"]:
        path = directory / entry
        files.extend(listed_files(path) if path.is_dir() else [path])
    return files


def render(directory: Path) -> list[dict[str, Any]]:
    return [
        document
        for path in listed_files(directory)
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    ]
