"""Suggestions with FHIR actions: change a draft order, order naloxone, refer the patient.

Every resource we send back is validated with `fhir.resources` (R4B) first. Validation is not
free, so it happens only for cards actually emitted, and the referral
ServiceRequests (the same for every patient apart from `subject`) are built and validated once
per rule set and then copied per call.

A draft order that is not valid R4 even after the usual normalisation (real clients send single
objects where arrays belong) gets no `update` suggestion: the card still fires, and its
explanation says why the suggestion is missing.

Each suggestion is built as a CDS Hooks `Suggestion` model. One that cannot be built (an
error in its resource or texts) is left off the card and logged with the rule and the error
type only: a card is never lost for its suggestion.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from cds_hooks.failures import describe_failure
from cds_hooks.models import Action, Suggestion
from rules.facts import MAX_NESTING, add_days, nested_deeper_than, parse_date
from rules.language import SUPPORTED_LANGUAGES
from rules.rulesets import Referral, RuleSet, RuleSpec

__all__ = ["ReferralTemplates", "SuggestionFactory"]

_log = logging.getLogger(__name__)

_UCUM = "http://unitsofmeasure.org"
_SNOMED = "http://snomed.info/sct"
_ATC = "http://www.whocc.no/atc"
_PERIOD_OF_USE = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period"
_PERIOD_DURATION = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Duration"

# MedicationRequest elements that are arrays in R4 but arrive as single objects from some clients.
_LIST_FIELDS = (
    "identifier",
    "category",
    "reasonCode",
    "reasonReference",
    "basedOn",
    "note",
    "dosageInstruction",
    "insurance",
    "supportingInformation",
    "instantiatesCanonical",
    "instantiatesUri",
    "detectedIssue",
    "eventHistory",
)


def _normalised_order(draft: Mapping[str, Any]) -> dict[str, Any]:
    """The draft as a MedicationRequest to send back: arrays where R4 has them, an intent and a
    status. A new top-level object; the objects below it are the draft's own, shared and never
    written to (a change copies what it writes to: `_own`)."""
    if nested_deeper_than(draft, MAX_NESTING):
        # Too deep to validate or send; the facts report the draft as incomplete.
        raise ValueError("draft nested too deep")
    order = dict(draft)
    for name in _LIST_FIELDS:
        value = order.get(name)
        if isinstance(value, dict):
            order[name] = [value]
    order.setdefault("intent", "order")
    order.setdefault("status", "draft")
    return order


def _own(parent: dict[str, Any], name: str) -> Any:
    """`parent.setdefault(name, {})`, but an object found there is replaced by a copy first,
    so that writing to it changes neither the draft nor another suggestion. A value that is
    no object is returned as it is (writing to it fails, as it always did)."""
    if name not in parent:
        parent[name] = {}
    elif isinstance(parent[name], dict):
        parent[name] = dict(parent[name])
    return parent[name]


def _valid_medication_request(resource: dict[str, Any]) -> bool:
    try:
        MedicationRequest.model_validate(resource)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


def _days(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "dag", "system": _UCUM, "code": "d"}


class ReferralTemplates:
    """Validated ServiceRequest templates per referral in the directory, and the label and
    description of each suggestion per language, built once."""

    def __init__(self, ruleset: RuleSet) -> None:
        self._templates: dict[str, dict[str, Any]] = {}
        self._texts: dict[tuple[str, str], tuple[str, str]] = {}
        label_text = ruleset.file.shared_texts["referral_label"]
        for referral_id, referral in ruleset.directory.referrals.items():
            template = self._template(referral_id, referral)
            ServiceRequest.model_validate(template)  # a broken directory fails at start-up
            self._templates[referral_id] = template
            for language in SUPPORTED_LANGUAGES:
                contact = referral.contact.route_in(language)
                label = label_text.get(language).format(name=referral.name, route=contact)
                description = f"{referral.purpose.get(language)} ({contact})"
                self._texts[(referral_id, language)] = (label[:200], description)

    def suggestion(self, referral_id: str, language: str, patient_ref: str | None) -> Suggestion:
        """The referral's suggestion for one patient."""
        label, description = self._texts[(referral_id, language)]
        resource = self.for_patient(referral_id, patient_ref)
        return Suggestion(
            label=label,
            actions=[Action(type="create", description=description, resource=resource)],
        )

    @staticmethod
    def _template(referral_id: str, referral: Referral) -> dict[str, Any]:
        contact = referral.contact
        # The ServiceRequest goes to a Dutch care provider: its note is Dutch.
        how = "; ".join(
            part for part in (contact.route_in("nl"), contact.phone, contact.url) if part
        )
        return {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "category": [
                {"coding": [{"system": _SNOMED, "code": "3457005", "display": "verwijzing"}]}
            ],
            "code": {
                "coding": [
                    {
                        "system": _SNOMED,
                        "code": referral.snomed_code,
                        "display": referral.snomed_display,
                    }
                ],
                "text": referral.name,
            },
            "subject": {"reference": "Patient/template"},
            "performer": [{"display": referral.name}],
            "note": [{"text": f"{referral.purpose.nl} Route: {how}."}],
            "identifier": [{"system": "urn:opioid-cds:referral", "value": referral_id}],
        }

    def for_patient(self, referral_id: str, patient_ref: str | None) -> dict[str, Any]:
        # A shallow copy is enough: the template's nested parts are shared, never changed
        # (serialising the card copies them), and only `subject` differs per patient.
        template = self._templates[referral_id]
        if not patient_ref:
            return dict(template)
        return {**template, "subject": {"reference": patient_ref}}


class SuggestionFactory:
    """Builds suggestions for the cards of one call; used only for cards actually emitted."""

    def __init__(
        self,
        *,
        ruleset: RuleSet,
        referral_templates: ReferralTemplates,
        language: str,
        drafts: Mapping[str, Mapping[str, Any]],
        units_per_day: Mapping[str, float | None],
        patient_ref: str | None,
        postcode: str | None,
    ) -> None:
        self.ruleset = ruleset
        self.language = language
        self._templates = referral_templates
        self._drafts = drafts
        self._units_per_day = units_per_day
        self._patient_ref = patient_ref
        self._postcode = postcode
        self._notes: dict[str, Any] = {}
        self._checked: dict[str, tuple[dict[str, Any], bool]] = {}
        self._valid_drafts: dict[str, tuple[dict[str, Any] | None, str]] = {}
        self._rule_id = ""
        self._rule_spec: RuleSpec | None = None

    def bind(self, *, rule_id: str, rule_spec: RuleSpec, notes: dict[str, Any]) -> None:
        """Point the factory at the card being rendered (its texts, its explanation notes)."""
        self._rule_id = rule_id
        self._rule_spec = rule_spec
        self._notes = notes

    def _guarded(self, build: Callable[[], Suggestion | None]) -> Suggestion | None:
        """`build()`, or None when it fails: the card goes without this suggestion. Only the
        rule and the error type are logged: the data may be about a patient."""
        try:
            return build()
        except Exception as exc:
            _log.warning(
                "rule %s: a suggestion could not be built: %s",
                self._rule_id,
                describe_failure(exc),
            )
            return None

    def rule_text(self, key: str, **values: Any) -> str:
        """A text of the current rule (`texts.<key>`) in the call's language."""
        assert self._rule_spec is not None, "bind() the factory to a rule first"
        return self._rule_spec.texts[key].get(self.language).format(**values)

    # --- update actions on a draft order ---------------------------------------------------
    #
    # The draft is normalised and validated once per call (`_checked_draft`); every update
    # suggestion of every card starts from that one normalised copy, and a change copies only
    # the objects and arrays it writes to (`_own`), so the draft and the other suggestions
    # keep theirs.
    #
    # A change says whether it wrote known-valid values only. fhir.resources checks the
    # structure and type of each element, and that an element holds at most one of its choice
    # fields (value[x], bounds[x]); it checks nothing across elements. So a valid order stays
    # valid when a change only puts a valid value where a valid order may hold one: an
    # unsignedInt in `numberOfRepeatsAllowed`, a Duration in `expectedSupplyDuration` or in a
    # `boundsDuration` that was there, a Period in a `boundsPeriod` that was there, dates in
    # (and parts out of) a `valuePeriod` that was there, a finite decimal in `quantity.value`,
    # a note of plain text. Such an order is not validated again. Anything else is validated
    # after the change, as before: a value that is not finite, a `valuePeriod` added to an
    # extension (it may hold another value[x]), a draft that was not valid to begin with (the
    # change may repair it: an unreadable period start is replaced).
    # tests/rules/cards/test_suggestions.py holds this against fhir.resources.

    def _checked_draft(
        self, order_id: str, draft: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """(the normalised draft, whether it is valid R4), once per call. A draft nested too
        deep raises ValueError each time it is asked for (each suggestion that wants it says
        so)."""
        found = self._checked.get(order_id)
        if found is None:
            order = _normalised_order(draft)
            found = self._checked[order_id] = (order, _valid_medication_request(order))
        return found

    def _update(
        self,
        order_id: str,
        label: str,
        description: str | Callable[[], str],
        change: Callable[[dict[str, Any]], bool],
    ) -> Suggestion | None:
        return self._guarded(lambda: self._build_update(order_id, label, description, change))

    def _build_update(
        self,
        order_id: str,
        label: str,
        description: str | Callable[[], str],
        change: Callable[[dict[str, Any]], bool],
    ) -> Suggestion | None:
        """`change` writes to its own copy of the normalised draft and returns True when all
        it wrote is known to be valid (see above); a `description` given as a function is
        asked after the change, so it can say what the change did."""
        draft = self._drafts.get(order_id)
        if draft is None:
            return None
        normalised, valid = self._checked_draft(order_id, draft)
        order = dict(normalised)
        known_valid = change(order)
        if not (valid and known_valid) and not _valid_medication_request(order):
            self._notes.setdefault("suggestions_omitted", []).append(
                {"order_id": order_id, "reason": "draft order is not valid FHIR R4"}
            )
            return None
        return Suggestion(
            label=label,
            is_recommended=True,
            actions=[
                Action(
                    type="update",
                    description=description if isinstance(description, str) else description(),
                    resource=order,
                )
            ],
        )

    def limit_duration(
        self,
        order_id: str,
        *,
        max_days: int,
        start: date | None,
        label: str,
        description: str,
        description_quantity_kept: str | None = None,
    ) -> Suggestion | None:
        """The draft order limited to `max_days`: period of use, supply, bounds and repeats.
        Its quantity is adjusted only when the daily use is known (not for a pump's cassette):
        then `description_quantity_kept`, where given, says so instead of `description`."""
        adjusted: list[bool] = []

        def change(order: dict[str, Any]) -> bool:
            known_valid = True
            dispense = _own(order, "dispenseRequest")
            dispense["numberOfRepeatsAllowed"] = 0
            dispense["expectedSupplyDuration"] = _days(max_days)
            quantity = dispense.get("quantity")
            units_per_day = self._units_per_day.get(order_id)
            if isinstance(quantity, dict) and units_per_day:
                value = round(units_per_day * max_days, 2)
                _own(dispense, "quantity")["value"] = value
                known_valid = math.isfinite(value)
                adjusted.append(True)
            extensions: list[Any] = order.get("extension", []) or []
            for index, extension in enumerate(extensions):
                if isinstance(extension, dict) and extension.get("url") == _PERIOD_OF_USE:
                    if extensions is order.get("extension"):
                        extensions = order["extension"] = list(extensions)
                    extension = extensions[index] = dict(extension)
                    known_valid = known_valid and "valuePeriod" in extension
                    period = _own(extension, "valuePeriod")
                    # An unreadable start ("garbage", "2026-13-45", "9999-12-31") is replaced
                    # by the order's start as the facts read it.
                    first = parse_date(period.get("start")) or start
                    if first is not None:
                        period["start"] = first.isoformat()
                        period["end"] = add_days(first, max_days - 1).isoformat()
                        period.pop("extension", None)
                    elif "start" in period:  # unreadable, and no start to put in its place
                        period.pop("start")
                        period.pop("end", None)
            dosages: list[Any] = order.get("dosageInstruction", []) or []
            for index, dosage in enumerate(dosages):
                timing = dosage.get("timing") if isinstance(dosage, dict) else None
                repeat = timing.get("repeat") if isinstance(timing, dict) else None
                if not isinstance(repeat, dict):
                    continue
                new_duration = "boundsDuration" in repeat
                new_period = "boundsPeriod" in repeat and start is not None
                if not (new_duration or new_period):
                    continue
                if dosages is order.get("dosageInstruction"):
                    dosages = order["dosageInstruction"] = list(dosages)
                dosage = dosages[index] = dict(dosage)
                repeat = _own(_own(dosage, "timing"), "repeat")
                if new_duration:
                    repeat["boundsDuration"] = _days(max_days)
                if new_period and start is not None:
                    repeat["boundsPeriod"] = {
                        "start": start.isoformat(),
                        "end": add_days(start, max_days - 1).isoformat(),
                    }
            return known_valid

        def said() -> str:
            if adjusted or description_quantity_kept is None:
                return description
            return description_quantity_kept

        return self._update(order_id, label, said, change)

    def add_note(
        self, order_ids: list[str], *, note: str, label: str, description: str
    ) -> Suggestion | None:
        """One suggestion that adds `note` to each of the drafted orders (MP9: the agreement's
        toelichting, which the pharmacy sees)."""
        return self._guarded(lambda: self._build_add_note(order_ids, note, label, description))

    def _build_add_note(
        self, order_ids: list[str], note: str, label: str, description: str
    ) -> Suggestion | None:
        actions = []
        for order_id in order_ids:
            order = self._valid_normalised_draft(order_id)
            if order is None:
                continue
            # A note of plain text keeps a valid order valid: no second validation.
            order = {**order, "note": [*order.get("note", []), {"text": note}]}
            actions.append(Action(type="update", description=description, resource=order))
        return Suggestion(label=label, actions=actions) if actions else None

    def _valid_normalised_draft(self, order_id: str) -> dict[str, Any] | None:
        """The normalised draft order when it is valid R4 (several suggestions of several cards
        start from it); None when there is no such draft or it is not valid R4 (said in the
        explanation of each card that asks, once: each card tells why its own are missing)."""
        if order_id not in self._valid_drafts:
            draft = self._drafts.get(order_id)
            order: dict[str, Any] | None = None
            reason = ""  # no draft to change: nothing is left out
            try:
                if draft is not None:
                    checked, valid = self._checked_draft(order_id, draft)
                    order = checked if valid else None
                    reason = "" if valid else "draft order is not valid FHIR R4"
            except ValueError as exc:  # nested too deep
                _log.warning(
                    "rule %s: a suggestion could not be built: %s",
                    self._rule_id,
                    describe_failure(exc),
                )
                reason = "draft order nested too deep"
            self._valid_drafts[order_id] = (order, reason)
        found, reason = self._valid_drafts[order_id]
        if found is None and reason:
            omitted = self._notes.setdefault("suggestions_omitted", [])
            note = {"order_id": order_id, "reason": reason}
            if note not in omitted:
                omitted.append(note)
        return found

    def no_repeats(self, order_id: str, *, label: str, description: str) -> Suggestion | None:
        def change(order: dict[str, Any]) -> bool:
            _own(order, "dispenseRequest")["numberOfRepeatsAllowed"] = 0
            return True

        return self._update(order_id, label, description, change)

    # --- create actions ---------------------------------------------------------------------

    def naloxone_order(
        self, *, label: str, description: str, instruction: str
    ) -> Suggestion | None:
        return self._guarded(lambda: self._naloxone_order(label, description, instruction))

    def _naloxone_order(self, label: str, description: str, instruction: str) -> Suggestion:
        resource: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "status": "draft",
            "intent": "proposal",
            "medicationCodeableConcept": {
                "coding": [{"system": _ATC, "code": "V03AB15", "display": "naloxon"}],
                "text": "Naloxon neusspray 1,8 mg/dosis",
            },
            "subject": {"reference": self._patient_ref or "Patient/unknown"},
            "dosageInstruction": [
                {
                    "text": instruction,
                    "asNeededBoolean": True,
                    "route": {
                        "coding": [{"system": _SNOMED, "code": "46713006", "display": "nasal"}]
                    },
                }
            ],
            "dispenseRequest": {
                "quantity": {"value": 2, "unit": "stuk", "system": _UCUM, "code": "1"},
                "numberOfRepeatsAllowed": 0,
            },
        }
        MedicationRequest.model_validate(resource)
        return Suggestion(
            label=label,
            is_recommended=True,
            actions=[Action(type="create", description=description, resource=resource)],
        )

    def referral_ids(
        self, referral_ids: list[str], *, on_oat: bool = False, limit: int | None = None
    ) -> list[str]:
        """The referrals for this patient, by preference: the postcode routes of the directory
        applied, those already in place left out, at most `limit`."""
        result = list(referral_ids)
        if self._postcode:
            for route in self.ruleset.directory.postcode_routes:
                if route.covers(self._postcode):
                    replaced = [rid for rid in result if rid in route.replaces]
                    if replaced:
                        # The replacement takes the place (and the preference) of the first.
                        first = result.index(replaced[0])
                        result[first] = route.replacement
                        result = [
                            rid
                            for index, rid in enumerate(result)
                            if rid not in route.replaces
                            and (rid != route.replacement or index == first)
                        ]
                        self._notes["postcode_route"] = route.area
        directory = self.ruleset.directory.referrals
        in_place = [
            rid for rid in result if on_oat and "oat" in directory[rid].already_in_place_for
        ]
        if in_place:
            self._notes["referrals_in_place"] = in_place
        result = [rid for rid in result if rid not in in_place]
        if limit is not None and len(result) > limit:
            self._notes["referrals_not_shown"] = result[limit:]
            result = result[:limit]
        return result

    def referrals(
        self, referral_ids: list[str], *, on_oat: bool = False, limit: int | None = None
    ) -> list[Suggestion]:
        """A `create` ServiceRequest suggestion per referral that fits (see `referral_ids`)."""
        built = [
            self._guarded(
                partial(self._templates.suggestion, referral_id, self.language, self._patient_ref)
            )
            for referral_id in self.referral_ids(referral_ids, on_oat=on_oat, limit=limit)
        ]
        return [suggestion for suggestion in built if suggestion is not None]

    def refer_back(
        self, *, label: str, description: str, performer: str | None
    ) -> Suggestion | None:
        return self._guarded(lambda: self._refer_back(label, description, performer))

    def _refer_back(self, label: str, description: str, performer: str | None) -> Suggestion:
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "code": {
                "coding": [{"system": _SNOMED, "code": "3457005", "display": "verwijzing"}],
                "text": description,
            },
            "subject": {"reference": self._patient_ref or "Patient/unknown"},
        }
        if performer:
            resource["performer"] = [{"reference": performer}]
        ServiceRequest.model_validate(resource)
        return Suggestion(
            label=label,
            actions=[Action(type="create", description=description, resource=resource)],
        )
