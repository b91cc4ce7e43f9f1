"""The API documentation page and the service's root.

    GET /                        to the playground (when it is on), else to /docs
    GET /docs                    Swagger UI on /openapi.json
    GET /docs/static/{name}      Swagger UI's script, style sheet and icon (app/docs_ui)

Swagger UI is served from the package, not from a CDN, so the page works without internet
(an integrator's laptop on a train, a hospital network that blocks CDNs).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.docs_ui import ASSETS, asset

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def root(request: Request) -> RedirectResponse:
    root_path = request.scope.get("root_path", "")
    target = "/playground" if request.app.state.settings.playground_enabled else "/docs"
    return RedirectResponse(root_path + target, status_code=307)


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    root_path = request.scope.get("root_path", "")
    static = f"{root_path}/docs/static"
    return get_swagger_ui_html(
        openapi_url=f"{root_path}{request.app.openapi_url}",
        title=f"{request.app.title} - API",
        swagger_js_url=f"{static}/swagger-ui-bundle.js",
        swagger_css_url=f"{static}/swagger-ui.css",
        swagger_favicon_url=f"{static}/favicon-32x32.png",
        oauth2_redirect_url=None,
    )


@router.get("/docs/static/{name}")
def docs_asset(name: str) -> Response:
    content = asset(name)
    if content is None:
        raise HTTPException(status_code=404, detail=f"no documentation file {name!r}")
    return Response(
        content, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
    )
