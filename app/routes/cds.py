"""CDS Hooks endpoints: discovery, the three services, and feedback.

Client authentication is a router-level dependency, so every route here is covered once.
Bodies are parsed with orjson into lean models; FHIR library objects stay off this path.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.logging import get_logger
from app.responses import JsonResponse
from app.security import verify_client
from app.services import DISCOVERY, SERVICES
from app.state import AppState
from app.store import pseudonymise_patient, record_card_event, store_feedback
from cds_hooks.contexts import draft_order_resources, validate_context
from cds_hooks.errors import HookMismatch, InvalidRequest, UnknownService
from cds_hooks.models import CdsResponse, CdsService, Feedback, FeedbackBatch, HookRequest
from cds_hooks.prefetch import resolve_prefetch
from rules.data_needs import PREFETCH_TEMPLATES, REQUIRED_KEYS
from rules.i18n import preferred_language

__all__ = ["router"]

log = get_logger(__name__)

router = APIRouter(
    prefix="/cds-services", tags=["CDS Hooks"], dependencies=[Depends(verify_client)]
)

MAX_BODY_BYTES = 5 * 1024 * 1024


def _service(service_id: str) -> CdsService:
    service = SERVICES.get(service_id)
    if service is None:
        raise UnknownService(f"no CDS service with id {service_id!r}", location="id")
    return service


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body:
        raise InvalidRequest("the request has no body; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the body is not valid JSON: {exc.msg} at position {exc.pos}"
        ) from exc


def _validation_message(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{location}: {first['msg']}", location


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.cds
    return state


@router.get("", summary="Discovery: the services this server offers")
async def discovery() -> JsonResponse:
    return JsonResponse(DISCOVERY.to_json_dict())


@router.post("/{service_id}", summary="Call a service with a hook request")
async def call_service(
    service_id: str, request: Request, background: BackgroundTasks
) -> JsonResponse:
    started = time.perf_counter()
    service = _service(service_id)
    payload = await _json_body(request)
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be a JSON object (a CDS Hooks request)")
    try:
        hook_request = HookRequest.model_validate(payload)
    except ValidationError as exc:
        message, location = _validation_message(exc)
        raise InvalidRequest(message, location=location) from exc
    structlog.contextvars.bind_contextvars(
        service_id=service_id, hook_instance=hook_request.hook_instance[:100]
    )
    if hook_request.hook != service.hook:
        raise HookMismatch(
            f"service {service_id!r} answers hook {service.hook!r}, not {hook_request.hook!r}",
            location="hook",
        )
    context = validate_context(hook_request.hook, hook_request.context)
    state = _state(request)
    resolved = await resolve_prefetch(
        hook_request,
        PREFETCH_TEMPLATES[service.hook],
        REQUIRED_KEYS[service.hook],
        state.fhir_client_for(hook_request),
        state.settings.prefetch_deadline_seconds,
    )
    language = preferred_language(
        request.headers.get("accept-language"), default=state.settings.default_language
    )
    evaluation = state.evaluator.evaluate(
        hook=service.hook,
        context=hook_request.context,
        draft_orders=draft_order_resources(context),
        resources=resolved.resources,
        missing_data=resolved.missing,
        language=language,
        today=date.today(),
    )
    body = CdsResponse(cards=evaluation.cards).to_json_dict()
    duration_ms = (time.perf_counter() - started) * 1000
    structlog.contextvars.bind_contextvars(
        rule_ids=evaluation.fired_rule_ids,
        missing_data=sorted(resolved.missing),
        fetched=sorted(resolved.fetched),
    )
    background.add_task(
        record_card_event,
        state.session_factory,
        service_id=service_id,
        hook=service.hook,
        hook_instance=hook_request.hook_instance,
        patient_pseudonym=pseudonymise_patient(context.patient_id, state.settings.audit_secret),
        rule_ids=evaluation.fired_rule_ids,
        card_uuids=[card.uuid for card in evaluation.cards],
        duration_ms=duration_ms,
    )
    return JsonResponse(body, headers={"Server-Timing": f"cds;dur={duration_ms:.2f}"})


def _feedback_items(payload: Any) -> list[Feedback]:
    """`{"feedback": [...]}` as the spec says, or one bare feedback object as HAPI sends."""
    if isinstance(payload, dict) and "feedback" not in payload and "card" in payload:
        payload = {"feedback": [payload]}
    if not isinstance(payload, dict):
        raise InvalidRequest('the body must be a JSON object: {"feedback": [...]}')
    try:
        return FeedbackBatch.model_validate(payload).feedback
    except ValidationError as exc:
        message, location = _validation_message(exc)
        raise InvalidRequest(message, location=location) from exc


@router.post("/{service_id}/feedback", summary="Feedback on cards: accepted or overridden")
async def feedback(service_id: str, request: Request) -> Response:
    _service(service_id)
    items = _feedback_items(await _json_body(request))
    state = _state(request)
    stored = await store_feedback(state.session_factory, service_id, items)
    structlog.contextvars.bind_contextvars(
        service_id=service_id, feedback_received=len(items), feedback_stored=stored
    )
    return JsonResponse({"received": len(items), "stored": stored})
