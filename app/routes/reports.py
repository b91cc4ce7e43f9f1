"""The agreements report as a page: `GET /reports` (docs/reports.md).

The same report as `opioid-cds report --format html`, small cells suppressed, charts as SVG
drawn here: no script, nothing from the internet. Production serves it only with
`Authorization: Bearer <OPIOID_CDS_REPORTS_TOKEN>`, a token of its own (the CDS clients'
JWTs do not open it), compared in constant time; without the setting every request is a
401. Development without the setting serves it open, like the playground.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from app.openapi import responses
from app.reporting.render import STYLE_HASH, render_html
from app.reporting.service import ReportRequest, make_report, period_problem
from app.security import bearer_matches
from app.settings import Settings

__all__ = ["router"]

router = APIRouter(tags=["Reports"])

_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src '{STYLE_HASH}'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _authorised(request: Request, settings: Settings) -> bool:
    token = settings.reports_token
    if token is None:
        return settings.environment == "development"
    return bearer_matches(request, token)


@router.get(
    "/reports",
    summary="The agreements report: trends, practices against the region, override reasons",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}, "description": "The report page"},
        **responses([400, 401, 503]),
    },
)
async def reports(
    request: Request,
    since: Annotated[date | None, Query(description="first day (YYYY-MM-DD)")] = None,
    until: Annotated[date | None, Query(description="last day (default: today)")] = None,
    practice: Annotated[
        str | None, Query(pattern=r"^([0-9]{8}|unknown)$", description="AGB code")
    ] = None,
    baseline_until: Annotated[
        date | None, Query(description="last day before implementation")
    ] = None,
) -> Response:
    state = request.app.state.cds
    settings: Settings = state.settings
    if not _authorised(request, settings):
        raise HTTPException(
            status_code=401,
            detail="the report needs Authorization: Bearer <OPIOID_CDS_REPORTS_TOKEN>",
            headers={"WWW-Authenticate": 'Bearer realm="reports"'},
        )
    wanted = ReportRequest(
        since=since, until=until, practice=practice, baseline_until=baseline_until
    )
    problem = period_problem(wanted)
    if problem is not None:
        raise HTTPException(status_code=400, detail=problem)
    report = await make_report(state.engine, wanted, ZoneInfo(settings.clinical_timezone))
    return Response(render_html(report), media_type="text/html; charset=utf-8", headers=_HEADERS)
