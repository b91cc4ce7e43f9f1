"""The playground page for integrators (owned by the integrator-toolkit work)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["Playground"])
