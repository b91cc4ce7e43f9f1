"""What the OpenAPI document (`/openapi.json`, shown at `/docs`) says about the routes.

The CDS Hooks routes read their bodies themselves (size limit, one JSON parse, errors as
OperationOutcome with status 400), so FastAPI cannot see their request models; the routes
name them with `request_body(...)`, and `install_openapi` adds the models' schemas. Every
route lists the statuses it really sends (`responses(...)`). FastAPI's own 422 is removed:
this service answers an invalid request with 400, never 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from app.db import DatabaseState

__all__ = [
    "FeedbackReceipt",
    "OperationOutcome",
    "Readiness",
    "install_openapi",
    "request_body",
    "responses",
]

_REF = "#/components/schemas/{model}"


class OperationOutcomeIssue(BaseModel):
    severity: Literal["error"]
    code: str = Field(description="FHIR issue type: invalid, security, not-found, processing, …")
    diagnostics: str = Field(description="what is wrong; only `unauthorized` for a 401")
    expression: list[str] | None = Field(default=None, description="the field, when known")


class OperationOutcome(BaseModel):
    """Every error answer: a FHIR OperationOutcome with one issue."""

    model_config = ConfigDict(title="OperationOutcome")

    resourceType: Literal["OperationOutcome"]
    issue: list[OperationOutcomeIssue]


class FeedbackReceipt(BaseModel):
    """The answer to feedback: how many items arrived, how many were new (stored)."""

    received: int
    stored: int


class RulesetInfo(BaseModel):
    id: str
    version: str


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    database: DatabaseState
    replay_store: Literal["ok", "unreachable"]
    ruleset: RulesetInfo
    audit_events_dropped: int
    audit_backlog_events: int
    """Audit events of answered calls in the local journal, not yet in the database."""


#: What each status means, for every route that sends it.
_STATUS: dict[int, tuple[str, type[BaseModel]]] = {
    400: (
        "The body is not JSON, not a valid request for this service (a field is missing or "
        "has the wrong type), or the hook does not match the service",
        OperationOutcome,
    ),
    401: (
        "The client JWT is missing (production), malformed or untrusted; the body says only "
        "`unauthorized`, the service log says why",
        OperationOutcome,
    ),
    404: ("No service (or playground file or fixture) with that name", OperationOutcome),
    413: ("The body is larger than 5 MB", OperationOutcome),
    415: ("The body is compressed (`Content-Encoding`); send plain JSON", OperationOutcome),
    412: (
        "Data the hook requires is neither prefetched nor fetchable from the fhirServer",
        OperationOutcome,
    ),
    503: (
        "The service's database or its JWT replay store (database or Redis) is unavailable; "
        "`Retry-After`",
        OperationOutcome,
    ),
}


def responses(
    statuses: Iterable[int],
    ok: type[BaseModel] | None = None,
    ok_description: str = "OK",
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: 200 with `ok` as its body, and the given error statuses
    with their description and body (an OperationOutcome)."""
    result: dict[int | str, dict[str, Any]] = {}
    if ok is not None:
        result[200] = {"model": ok, "description": ok_description}
    for status in statuses:
        description, model = _STATUS[status]
        result[status] = {"description": description, "model": model}
    return result


def request_body(*models: type[BaseModel], description: str) -> dict[str, Any]:
    """The `openapi_extra=` of a route that reads one of `models` as its JSON body."""
    refs = [{"$ref": _REF.format(model=model.__name__)} for model in models]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _drop_422(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for path_item in paths.values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("422", None)
    if "HTTPValidationError" not in json.dumps(paths):
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


def _add_request_models(schema: dict[str, Any], models: Iterable[type[BaseModel]]) -> None:
    _, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template=_REF
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in definitions.get("$defs", {}).items():
        if name in components and components[name] != definition:
            raise ValueError(f"two different OpenAPI schemas are called {name!r}")
        components[name] = definition


def install_openapi(app: FastAPI, request_models: Iterable[type[BaseModel]]) -> None:
    """Make `app.openapi()` the document described in the module docstring."""
    models = list(request_models)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            _drop_422(schema)
            _add_request_models(schema, models)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
