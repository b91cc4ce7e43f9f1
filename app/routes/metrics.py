"""`GET /metrics`: the Prometheus text format, when `OPIOID_CDS_METRICS` is on.

With `OPIOID_CDS_METRICS_TOKEN` set, only `Authorization: Bearer <token>` gets it (production
refuses to start without one); development without a token serves it open.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.security import bearer_matches
from app.settings import Settings
from app.state import AppState

__all__ = ["router"]

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    token = settings.metrics_token
    if token is not None and not bearer_matches(request, token):
        raise HTTPException(
            status_code=401,
            detail="the metrics need Authorization: Bearer <OPIOID_CDS_METRICS_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    state: AppState = request.app.state.cds
    assert state.metrics is not None  # the route exists only with metrics on
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
