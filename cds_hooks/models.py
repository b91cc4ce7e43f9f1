"""Pydantic models of the CDS Hooks 2.0 wire format.

Requests are read leniently (real clients send unknown fields, single objects where arrays
belong, Bundles without `type`): only what the protocol needs is checked here. Responses are
strict: the service builds its cards as these models, so an invalid card is caught when it is
built, and sends them with `CdsResponse.to_json`. They serialise without `null` and without
empty strings, arrays or objects, as the spec demands (`_is_empty`, the one rule for that);
only `"cards"` is always sent, even when empty.

`to_json` writes the models' own fields and wire names with orjson (`_wire_fields`): the same
bytes as pydantic's serialiser, which the tests check, at about half the cost, since pydantic
infers the type of every value of a free-form `resource` or `extension` one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any, Literal
from uuid import uuid4

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python

__all__ = [
    "AcceptedSuggestion",
    "Action",
    "Card",
    "CdsResponse",
    "CdsService",
    "Coding",
    "Discovery",
    "Feedback",
    "FeedbackBatch",
    "FhirAuthorization",
    "HookRequest",
    "Link",
    "OverrideReason",
    "Source",
    "Suggestion",
    "json_value",
]


def _new_uuid() -> str:
    return str(uuid4())


_EMPTYABLE = (str, list, dict)


def _is_empty(value: Any) -> bool:
    """None, "", [] and {} (not 0 or False): left out of the JSON at every depth."""
    return value is None or (not value and isinstance(value, _EMPTYABLE))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def json_value(value: Any) -> Any:
    """Free-form content (a card's `extension`) as JSON values: dates, enums, sets (sorted)
    and tuples converted, empty values (`_is_empty`) left out at every depth."""
    kind = type(value)
    # Exact-type checks first: most values are plain scalars, dicts and lists, and isinstance
    # against Mapping goes through the slow ABC machinery.
    if kind in _SCALARS:
        return value
    if kind is dict:
        return _json_object(value)
    if kind is list or kind is tuple:
        return _json_array(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return _json_object(value)
    if isinstance(value, set | frozenset):
        return sorted(_json_array(value))
    if isinstance(value, list | tuple):
        return _json_array(value)
    return value


def _json_object(value: Mapping[Any, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, item in value.items():
        # Plain scalars (most values) are kept without a call; the rest go through json_value.
        if type(item) not in _SCALARS:
            item = json_value(item)
        if item is None or (not item and isinstance(item, _EMPTYABLE)):  # _is_empty
            continue
        kept[key if type(key) is str else str(key)] = item
    return kept


def _json_array(value: Iterable[Any]) -> list[Any]:
    kept: list[Any] = []
    for item in value:
        if type(item) not in _SCALARS:
            item = json_value(item)
        if item is None or (not item and isinstance(item, _EMPTYABLE)):  # _is_empty
            continue
        kept.append(item)
    return kept


def _optional(default: Any = None, **kwargs: Any) -> Any:
    """A field left out of the JSON when it holds None or an empty string, list or object."""
    if default in (list, dict):
        return Field(default_factory=default, exclude_if=_is_empty, **kwargs)
    return Field(default=default, exclude_if=_is_empty, **kwargs)


class _Wire(BaseModel):
    """Response-side objects: unknown fields are an error in our own output, and optional
    fields without a value are left out of the JSON (`_optional`), as the spec demands."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        dumped: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return dumped

    def to_json(self) -> bytes:
        """The JSON sent: wire names, no empty values."""
        try:
            return orjson.dumps(self, default=_wire_fields)
        except orjson.JSONEncodeError:
            # What orjson refuses (an integer beyond 64 bits, a key that is not a string)
            # pydantic writes as it always did.
            return self.__pydantic_serializer__.to_json(self, by_alias=True)


_Layout = tuple[tuple[str, str, bool], ...]
_LAYOUTS: dict[type, _Layout] = {}
"""Per response model class: (attribute, wire name, left out when empty) per field, in order.
A function of the class alone, filled as each class is first serialised."""


def _wire_layout(model: type[_Wire]) -> _Layout:
    layout = []
    for name, info in model.model_fields.items():
        if info.exclude_if not in (None, _is_empty) or info.exclude:
            raise TypeError(f"{model.__name__}.{name}: only _is_empty decides what is left out")
        wire_name = info.serialization_alias or info.alias or name
        layout.append((name, wire_name, info.exclude_if is not None))
    return tuple(layout)


def _wire_fields(value: object) -> Any:
    """orjson's `default`: a response model as its fields by wire name without the empty
    optional ones, as pydantic's serialiser writes it; any other value as pydantic would."""
    # By exact class: isinstance against a pydantic model class goes through ABCMeta.
    layout = _LAYOUTS.get(type(value))
    if layout is None:
        if not isinstance(value, _Wire):
            return to_jsonable_python(value, by_alias=True)
        layout = _LAYOUTS[type(value)] = _wire_layout(type(value))
    fields: dict[str, Any] = {}
    # Read from the instance dict: getattr would search the model's class hierarchy first.
    state = value.__dict__
    for name, wire_name, optional in layout:
        item = state[name]
        if optional and (item is None or (not item and isinstance(item, _EMPTYABLE))):
            continue  # _is_empty, inlined: it runs for every field of every model
        fields[wire_name] = item
    return fields


NonEmptyStr = Annotated[str, Field(min_length=1)]


class Coding(_Wire):
    system: NonEmptyStr
    code: NonEmptyStr
    display: str | None = _optional()


class OverrideReason(_Wire):
    """An override reason offered on a card: the spec requires `display`."""

    system: NonEmptyStr
    code: NonEmptyStr
    display: NonEmptyStr


class Source(_Wire):
    label: NonEmptyStr
    url: str | None = _optional()
    icon: str | None = _optional()
    topic: Coding | None = _optional()


class Link(_Wire):
    label: NonEmptyStr
    url: NonEmptyStr
    type: Literal["absolute", "smart"] = "absolute"
    app_context: str | None = _optional(alias="appContext")

    @model_validator(mode="after")
    def _app_context_only_on_smart(self) -> Link:
        if self.app_context is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links")
        return self


class Action(_Wire):
    type: Literal["create", "update", "delete"]
    description: NonEmptyStr
    resource: dict[str, Any] | None = _optional()
    resource_id: str | None = _optional(alias="resourceId")

    @model_validator(mode="after")
    def _resource_for_create_and_update(self) -> Action:
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"a {self.type} action carries the resource")
        if self.type == "delete" and not self.resource_id:
            raise ValueError("a delete action names resourceId")
        return self


class Suggestion(_Wire):
    label: NonEmptyStr
    uuid: str = Field(default_factory=_new_uuid)
    is_recommended: bool | None = _optional(alias="isRecommended")
    actions: list[Action] = _optional(list)


class Card(_Wire):
    uuid: str = Field(default_factory=_new_uuid)
    summary: Annotated[str, Field(min_length=1, max_length=139)]
    detail: str | None = _optional()
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] = _optional(list)
    selection_behavior: Literal["at-most-one", "any"] | None = _optional(alias="selectionBehavior")
    override_reasons: list[OverrideReason] = _optional(list, alias="overrideReasons")
    links: list[Link] = _optional(list)
    # Free-form: kept as JSON values without empty ones, so what is read is what is sent.
    extension: Annotated[dict[str, Any] | None, BeforeValidator(json_value)] = _optional()

    @model_validator(mode="after")
    def _selection_behavior_with_suggestions(self) -> Card:
        if self.suggestions and self.selection_behavior is None:
            raise ValueError("selectionBehavior is required when a card has suggestions")
        if self.selection_behavior == "at-most-one":
            recommended = sum(1 for suggestion in self.suggestions if suggestion.is_recommended)
            if recommended > 1:
                raise ValueError("at-most-one allows at most one recommended suggestion")
        return self


class CdsResponse(_Wire):
    cards: list[Card] = Field(default_factory=list)  # sent even when empty, as the spec says
    system_actions: list[Action] = _optional(list, alias="systemActions")


class CdsService(_Wire):
    hook: NonEmptyStr
    id: NonEmptyStr
    title: str | None = _optional()
    description: NonEmptyStr
    prefetch: dict[str, str] = _optional(dict)
    usage_requirements: str | None = _optional(alias="usageRequirements")


class Discovery(_Wire):
    services: list[CdsService]

    def to_json_dict(self) -> dict[str, Any]:
        return {"services": [service.to_json_dict() for service in self.services]}


# --- requests -----------------------------------------------------------------------------


class _Lenient(BaseModel):
    """Request-side objects: unknown fields are ignored, as real clients send many."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class FhirAuthorization(_Lenient):
    access_token: NonEmptyStr
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    def __repr__(self) -> str:  # never let the token reach a log through repr()
        return f"FhirAuthorization(token_type={self.token_type!r}, scope={self.scope!r})"

    __str__ = __repr__


class HookRequest(_Lenient):
    hook: NonEmptyStr
    hook_instance: NonEmptyStr = Field(alias="hookInstance")
    fhir_server: str | None = Field(default=None, alias="fhirServer")
    fhir_authorization: FhirAuthorization | None = Field(default=None, alias="fhirAuthorization")
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        if self.fhir_authorization is not None and not self.fhir_server:
            raise ValueError("fhirAuthorization requires fhirServer (cds-r-1)")
        return self


def _printable(value: str) -> str:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain control characters")
    return value


# Ids and codes from the client that are stored as they are: bounded to their column and
# without control characters (PostgreSQL refuses NUL bytes).
StoredId = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]
StoredUri = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_printable)]


class AcceptedSuggestion(_Lenient):
    id: StoredId


class FeedbackCoding(_Lenient):
    system: StoredUri
    code: StoredId
    display: str | None = None


class FeedbackOverrideReason(_Lenient):
    reason: FeedbackCoding | None = None
    user_comment: str | None = Field(default=None, alias="userComment")


class Feedback(_Lenient):
    card: StoredId
    outcome: Literal["accepted", "overridden"]
    accepted_suggestions: Annotated[list[AcceptedSuggestion], Field(max_length=100)] = Field(
        default_factory=list, alias="acceptedSuggestions"
    )
    override_reason: FeedbackOverrideReason | None = Field(default=None, alias="overrideReason")
    outcome_timestamp: NonEmptyStr = Field(alias="outcomeTimestamp")

    @field_validator("outcome_timestamp")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError("outcomeTimestamp must be an ISO 8601 / RFC 3339 date-time") from exc
        if parsed.tzinfo is None:
            raise ValueError("outcomeTimestamp must carry a time zone (UTC)")
        try:
            parsed.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("outcomeTimestamp is out of range") from exc
        return value

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> Feedback:
        if self.outcome == "accepted" and not self.accepted_suggestions:
            raise ValueError("acceptedSuggestions is required when outcome is accepted (cds-fb-2)")
        return self


MAX_FEEDBACK_ITEMS = 100


class FeedbackBatch(_Lenient):
    feedback: Annotated[list[Feedback], Field(min_length=1, max_length=MAX_FEEDBACK_ITEMS)]
