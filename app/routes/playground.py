"""The playground page for integrators: `GET /playground`.

The page (app/playground/index.html, .js, .css, all served from here: no CDN, no external
fonts or scripts) lets an integrator pick a fixture or paste a request, send it to one of the
services, see the cards as a GP would, and send accept/override feedback. It calls the real
`/cds-services` endpoints, so what it shows is what an HIS gets.

    GET /playground                      the page
    GET /playground/static/{file}        its scripts, style sheet and vendored libraries
    GET /playground/fixtures             the fixtures and the services, as JSON
    GET /playground/fixtures/{name}      one fixture's request, dates shifted to today
    GET /playground/catalogue            the products and indications of the order form
"""

from __future__ import annotations

from datetime import date
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from app.openapi import responses
from app.playground import FixtureNotFound, fixture_infos, load_fixture_request, static_file
from app.playground.order_choices import order_choices
from app.responses import JsonResponse
from app.services import SERVICES
from rules.catalogue import load_catalogue

__all__ = ["DEFAULT_FIXTURE", "router", "served_files"]

router = APIRouter(prefix="/playground", tags=["Playground"])

# The page loads nothing from anywhere but this service, and runs no inline script.
_SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
# Preloaded when the page opens: the README's example (a GP prescribing short-acting
# oxycodone, one orange Warning card), so a first visitor only has to press "Send".
DEFAULT_FIXTURE: Final = "short-acting-oxycodon-tablet"
_JS: Final = "text/javascript; charset=utf-8"
_STATIC: Final[dict[str, str]] = {
    "playground.js": _JS,
    "cards.js": _JS,
    "dom.js": _JS,
    "markdown.js": _JS,
    "order.js": _JS,
    "ehr.js": _JS,
    "playground.css": "text/css; charset=utf-8",
    # markdown-it and DOMPurify, committed unchanged (app/playground/vendor/README.md)
    "vendor/markdown-it.umd.min.js": _JS,
    "vendor/purify.min.js": _JS,
}


def served_files() -> list[str]:
    """The files of app/playground that `/playground/static/{name}` serves."""
    return list(_STATIC)


def _asset(name: str, media_type: str) -> Response:
    content = static_file(name)
    if content is None:  # a broken installation, not a client error
        raise HTTPException(status_code=404, detail=f"playground file {name} is not installed")
    return Response(content, media_type=media_type, headers=_SECURITY_HEADERS)


@router.get("", summary="The playground page", response_class=Response)
def page() -> Response:
    return _asset("index.html", "text/html; charset=utf-8")


@router.get(
    "/static/{name:path}",
    summary="Scripts, style sheet and vendored libraries of the playground page",
    responses=responses([404]),
)
def asset(name: str) -> Response:
    media_type = _STATIC.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no playground file {name!r}")
    return _asset(name, media_type)


@router.get("/fixtures", summary="The example requests (fixtures) and the services")
def fixtures() -> JsonResponse:
    infos = fixture_infos()
    names = {info.name for info in infos}
    return JsonResponse(
        {
            "services": [
                {"id": service.id, "hook": service.hook, "title": service.title}
                for service in SERVICES.values()
            ],
            "fixtures": [info.to_json() for info in infos],
            "defaultFixture": DEFAULT_FIXTURE if DEFAULT_FIXTURE in names else None,
        },
        headers={"Cache-Control": "no-cache"},
    )


@router.get(
    "/fixtures/{name}",
    summary="One fixture's request, dates relative to today",
    responses=responses([404]),
)
def fixture(name: str) -> JsonResponse:
    try:
        request, info = load_fixture_request(name, today=date.today())
    except FixtureNotFound:
        raise HTTPException(status_code=404, detail=f"no fixture called {name!r}") from None
    return JsonResponse(
        {**info.to_json(), "request": request}, headers={"Cache-Control": "no-cache"}
    )


@router.get("/catalogue", summary="The products and indication codes the order form offers")
def catalogue() -> JsonResponse:
    return JsonResponse(order_choices(load_catalogue()), headers={"Cache-Control": "no-cache"})
