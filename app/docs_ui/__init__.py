"""Swagger UI for `/docs`, shipped with the package so the page works without internet.

The files are copied unchanged from the npm package `swagger-ui-dist`, version
`SWAGGER_UI_VERSION` (Apache License 2.0: LICENSE, NOTICE and the bundle's third-party
notices are beside them). To update: `npm pack swagger-ui-dist@<version>`, copy the files
named in `ASSETS` from its `package/` folder, and change the version here; the tests check
that every file is present.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

__all__ = ["ASSETS", "SWAGGER_UI_VERSION", "asset"]

SWAGGER_UI_VERSION: Final = "5.35.0"

#: The files `/docs/static/{name}` serves, with their media types.
ASSETS: Final[dict[str, str]] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}


def asset(name: str) -> bytes | None:
    """One of `ASSETS` as shipped with the package, or None."""
    if name not in ASSETS:
        return None
    resource = resources.files(__name__).joinpath(name)
    if not resource.is_file():
        return None
    return resource.read_bytes()
