"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.db import check_database
from app.openapi import Readiness
from app.responses import JsonResponse

__all__ = ["router"]

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> JsonResponse:
    return JsonResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="The database answers and is migrated; names the rule set in use",
    responses={
        200: {"model": Readiness, "description": "Ready"},
        503: {
            "model": Readiness,
            "description": "Not ready: the database does not answer, or lacks a migration "
            "of this version (run `opioid-cds migrate`)",
        },
    },
)
async def readyz(request: Request) -> JsonResponse:
    state = request.app.state.cds
    database = await check_database(state.engine)
    database_ok = database == "ok"
    ruleset = state.evaluator.ruleset  # loaded at start-up, or the service would not run
    return JsonResponse(
        {
            "status": "ready" if database_ok else "not ready",
            "database": database,
            "ruleset": {"id": ruleset.id, "version": ruleset.version},
            "audit_events_dropped": state.audit.dropped,
        },
        status_code=200 if database_ok else 503,
    )
