"""CDS Hooks endpoints: discovery, the three services, and feedback.

Client authentication is a router-level dependency, so every route here is covered once.
The work of a service call is in `app.pipeline`, shared with the offline CLI.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from app.audit import AuditEvent
from app.openapi import FeedbackReceipt, request_body, responses
from app.pipeline import (
    MAX_BODY_BYTES,
    HookOutcome,
    evaluate_hook_request,
    parse_json,
    service_for,
    validation_message,
)
from app.responses import JsonResponse
from app.security import verify_client
from app.services import DISCOVERY, SERVICES
from app.state import AppState
from app.store import pseudonymise_patient, store_feedback
from app.timing import add_part, part
from cds_hooks.errors import BodyTooLarge, InvalidRequest, UnsupportedEncoding
from cds_hooks.models import CdsResponse, Discovery, Feedback, FeedbackBatch, HookRequest
from rules.language import preferred_language

__all__ = ["router"]

router = APIRouter(
    prefix="/cds-services", tags=["CDS Hooks"], dependencies=[Depends(verify_client)]
)


async def _body(request: Request) -> bytes:
    """The request body, refused as soon as it grows past the limit: a client must not make
    the service hold an unbounded body in memory."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedEncoding(
            f"the body is sent with Content-Encoding: {encoding[:40]}; send plain JSON"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.cds
    return state


@router.get(
    "",
    summary="Discovery: the services this server offers",
    responses=responses([401, 503], ok=Discovery, ok_description="The services"),
)
async def discovery() -> JsonResponse:
    return JsonResponse(DISCOVERY.to_json_dict())


@router.post(
    "/{service_id}",
    summary="Call a service with a hook request",
    responses=responses(
        [400, 401, 404, 412, 413, 415, 503],
        ok=CdsResponse,
        ok_description="The cards (maybe none)",
    ),
    openapi_extra=request_body(
        HookRequest,
        description="A CDS Hooks 2.0 request for the service's hook; context per hook",
    ),
)
async def call_service(service_id: str, request: Request) -> Response:
    started = time.perf_counter()
    arrived: float = getattr(request.state, "arrived", started)
    service = service_for(service_id, SERVICES)
    structlog.contextvars.bind_contextvars(service_id=service_id)
    state = _state(request)
    metrics = state.metrics
    outcome = await evaluate_hook_request(
        parse_json(await _body(request)),
        service=service,
        evaluator=state.evaluator,
        fhir_client_for=state.fhir_client_for,
        deadline_seconds=_prefetch_budget(state.settings.prefetch_deadline_seconds, arrived),
        language=preferred_language(
            request.headers.get("accept-language"), default=state.settings.default_language
        ),
        today=state.settings.clinical_today(),
        started=started,
        on_fetch=metrics.fetch_observer() if metrics is not None else None,
    )
    evaluation = outcome.evaluation
    if metrics is not None:
        metrics.observe_evaluation(service_id, evaluation)
    structlog.contextvars.bind_contextvars(
        hook_instance=outcome.request.hook_instance[:100],
        rule_ids=evaluation.fired_rule_ids,
        missing_data=sorted(outcome.resolved.missing),
        fetched=sorted(outcome.resolved.fetched),
    )
    event = AuditEvent(
        service_id=service_id,
        hook=service.hook,
        hook_instance=outcome.request.hook_instance,
        patient_pseudonym=pseudonymise_patient(
            outcome.context.patient_id, state.settings.audit_secret
        ),
        rule_ids=evaluation.fired_rule_ids,
        card_uuids=[card.uuid for card in evaluation.cards],
        duration_ms=outcome.duration_ms,
        report=state.recorder.rows(service.hook, evaluation),
    )
    with part("store"):
        state.audit.record(event)
    add_part("cds", outcome.duration_ms)
    return CardsResponse(outcome)


EVALUATION_RESERVE_SECONDS = 0.2
"""Of the deadline, kept back for the rules and the answer after prefetch resolution."""


def _prefetch_budget(deadline_seconds: float, arrived: float) -> float:
    """What is left of the deadline for fetching: it counts from the request's arrival, so
    that under load (authentication and the body waiting their turn) the answer still comes
    within it."""
    spent = time.perf_counter() - arrived
    return max(deadline_seconds - spent - EVALUATION_RESERVE_SECONDS, 0.0)


class CardsResponse(Response):
    """A service's answer. It holds the call's objects (the parsed request, its facts and
    cards) until the body is sent, so freeing them is not work the GP's system waits for.
    Its `Server-Timing` is the request middleware's (`app.timing`)."""

    media_type = "application/json"

    def __init__(self, outcome: HookOutcome) -> None:
        super().__init__(outcome.body_json)
        self._outcome: HookOutcome | None = outcome

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._outcome = None


def _feedback_items(payload: Any) -> list[Feedback]:
    """`{"feedback": [...]}` as the spec says, or one bare feedback object as HAPI sends."""
    if isinstance(payload, dict) and "feedback" not in payload and "card" in payload:
        payload = {"feedback": [payload]}
    if not isinstance(payload, dict):
        raise InvalidRequest('the body must be a JSON object: {"feedback": [...]}')
    try:
        return FeedbackBatch.model_validate(payload).feedback
    except ValidationError as exc:
        message, location = validation_message(exc)
        raise InvalidRequest(message, location=location) from exc


@router.post(
    "/{service_id}/feedback",
    summary="Feedback on cards: accepted or overridden",
    responses=responses(
        [400, 401, 404, 413, 415, 503],
        ok=FeedbackReceipt,
        ok_description="Received and stored items",
    ),
    openapi_extra=request_body(
        FeedbackBatch,
        Feedback,
        description='`{"feedback": [...]}` as the spec says, or one bare feedback object',
    ),
)
async def feedback(service_id: str, request: Request) -> JsonResponse:
    service_for(service_id, SERVICES)
    items = _feedback_items(parse_json(await _body(request)))
    state = _state(request)
    known_reasons = state.evaluator.ruleset.file.override_reasons.keys()
    with part("store"):
        stored = await store_feedback(state.session_factory, service_id, items, known_reasons)
    structlog.contextvars.bind_contextvars(
        service_id=service_id, feedback_received=len(items), feedback_stored=stored
    )
    return JsonResponse({"received": len(items), "stored": stored})
