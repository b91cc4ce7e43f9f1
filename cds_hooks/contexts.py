"""Hook contexts of `order-select`, `order-sign` and `patient-view` (CDS Hooks Library R4).

Strict where the protocol needs a value (ids, the draft orders Bundle), lenient where real
clients deviate: a Bundle without `type`, entries without `resource`, unknown fields.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cds_hooks.errors import HookMismatch, InvalidRequest

__all__ = [
    "FHIR_RESOURCE_TYPES",
    "HOOK_CONTEXTS",
    "HookContext",
    "OrderSelectContext",
    "OrderSignContext",
    "PatientViewContext",
    "validate_context",
]

NonEmptyStr = Annotated[str, Field(min_length=1, max_length=256)]

FHIR_RESOURCE_TYPES: frozenset[str] = frozenset(
    json.loads(files("cds_hooks").joinpath("fhir_resource_types.json").read_text("utf-8"))[
        "resource_types"
    ]
)
"""The FHIR R4 (R4B) resource types, from `fhir_resource_types.json` (its `source` says how it
was made; a test keeps it equal to the `fhir.resources` package's list)."""


class DraftOrdersBundle(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resource_type: str = Field(default="Bundle", alias="resourceType")
    entry: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("resource_type")
    @classmethod
    def _is_bundle(cls, value: str) -> str:
        if value != "Bundle":
            raise ValueError("draftOrders must be a FHIR Bundle")
        return value

    @field_validator("entry", mode="before")
    @classmethod
    def _entries(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, dict):  # a single entry sent as an object
            return [value]
        return value


class HookContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    hook: ClassVar[str]
    """The hook whose context this is: the protocol names each hook once, here."""

    user_id: NonEmptyStr = Field(alias="userId")
    patient_id: NonEmptyStr = Field(alias="patientId")
    encounter_id: NonEmptyStr | None = Field(default=None, alias="encounterId")


class PatientViewContext(HookContext):
    hook: ClassVar[str] = "patient-view"


class OrderSignContext(HookContext):
    hook: ClassVar[str] = "order-sign"

    draft_orders: DraftOrdersBundle = Field(alias="draftOrders")


class OrderSelectContext(OrderSignContext):
    hook: ClassVar[str] = "order-select"

    selections: list[NonEmptyStr]

    @field_validator("selections", mode="before")
    @classmethod
    def _single_selection(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


HOOK_CONTEXTS: dict[str, type[HookContext]] = {
    model.hook: model for model in (OrderSelectContext, OrderSignContext, PatientViewContext)
}


def validate_context(hook: str, context: dict[str, Any]) -> HookContext:
    """Check the context of a supported hook; raise InvalidRequest naming the field."""
    model = HOOK_CONTEXTS.get(hook)
    if model is None:
        raise HookMismatch(f"hook {hook!r} is not supported", location="hook")
    try:
        validated = model.model_validate(context)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in ("context", *first["loc"]))
        raise InvalidRequest(f"{location}: {first['msg']}", location=location) from exc
    if isinstance(validated, OrderSignContext):
        _check_resource_types(validated.draft_orders.entry)
    return validated


def _check_resource_types(entries: list[dict[str, Any]]) -> None:
    """A draft whose `resourceType` is not a FHIR R4 resource type is a 400 naming the entry
    (lenient as before about entries without a resource or without a `resourceType`)."""
    for position, entry in enumerate(entries):
        resource = entry.get("resource")
        if not isinstance(resource, dict) or "resourceType" not in resource:
            continue
        resource_type = resource["resourceType"]
        if isinstance(resource_type, str) and resource_type in FHIR_RESOURCE_TYPES:
            continue
        location = f"context.draftOrders.entry[{position}].resource.resourceType"
        shown = json.dumps(resource_type, ensure_ascii=False)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise InvalidRequest(
            f"{location}: {shown} is not a FHIR R4 resource type", location=location
        )
