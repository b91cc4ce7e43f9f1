"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.db import check_database
from app.responses import JsonResponse

__all__ = ["router"]

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> JsonResponse:
    return JsonResponse({"status": "ok"})


@router.get("/readyz", summary="The database answers and the rule set is loaded")
async def readyz(request: Request) -> JsonResponse:
    state = request.app.state.cds
    database_ok = await check_database(state.engine)
    ready = database_ok and state.ruleset_loaded
    return JsonResponse(
        {
            "status": "ready" if ready else "not ready",
            "database": "ok" if database_ok else "unreachable",
            "ruleset": "loaded" if state.ruleset_loaded else "missing",
        },
        status_code=200 if ready else 503,
    )
