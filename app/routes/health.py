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
    summary="The database answers and is migrated, the replay store answers; names the rule set",
    responses={
        200: {"model": Readiness, "description": "Ready"},
        503: {
            "model": Readiness,
            "description": "Not ready: the database does not answer or lacks a migration of "
            "this version (run `opioid-cds migrate`), or the replay store does not answer",
        },
    },
)
async def readyz(request: Request) -> JsonResponse:
    state = request.app.state.cds
    database = await check_database(state.engine)
    # Without its replay store the service refuses every signed call (503).
    replay_ok = await state.replay_store.reachable()
    ready = database == "ok" and replay_ok
    ruleset = state.evaluator.ruleset  # loaded at start-up, or the service would not run
    return JsonResponse(
        {
            "status": "ready" if ready else "not ready",
            "database": database,
            "replay_store": "ok" if replay_ok else "unreachable",
            "ruleset": {"id": ruleset.id, "version": ruleset.version},
            "audit_events_dropped": state.audit.dropped,
            "audit_backlog_events": state.audit.backlog,
        },
        status_code=200 if ready else 503,
    )
