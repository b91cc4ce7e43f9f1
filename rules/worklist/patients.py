"""One patient's resources → a worklist row, decided by the service's own rule engine.

A patient is a chronic user here exactly when the `chronic-user-review` card would fire for
them: the resources go through `Evaluator.evaluate` as a `patient-view` call with that data as
its prefetch, and the row reads the facts that call built. Nothing of the rule is repeated
here: not the threshold, not the look-back, not which history counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from cds_hooks.draft_orders import DraftOrders
from rules.engine import EvaluationInput, Evaluator
from rules.facts import Facts, add_days, build_facts, covered_days
from rules.hooks import PATIENT_VIEW

__all__ = ["CHRONIC_RULE", "SECTIONS", "WORKLIST_USER", "PatientJudge", "WorklistRow"]

CHRONIC_RULE = "chronic-user-review"
SECTIONS = ("chronic", "oat", "palliative")
"""chronic: the card fires; oat: on OAT in the look-back and not chronic (OAT does not count,
definitions §2); palliative: the card would fire but palliative care or cancer excludes it."""
WORKLIST_USER = "Practitioner/chronic-users-worklist"
"""The `userId` of the patient-view call; no rule on that hook reads the user's role."""
MEDICATION_TYPES = frozenset({"MedicationRequest", "MedicationDispense", "MedicationStatement"})


@dataclass(frozen=True, slots=True)
class WorklistRow:
    section: str
    patient: str
    gp: str | None
    practice: str | None
    covered_days: int
    """Non-OAT opioid days in the look-back: the card's `prior_opioid_days`."""
    oat_days: int
    substances: tuple[str, ...]
    """Every opioid substance in the look-back, OAT included."""
    ome_mg_per_day: float | None
    """Current OME of the active opioids; None when there is none or none is computable."""
    last_prescription: date | None
    last_physical_consult: date | None
    on_oat: bool


@dataclass(frozen=True, slots=True)
class Practice:
    gp: str | None
    practice: str | None


class PatientJudge:
    """Decides, per patient, whether and where the patient is listed."""

    def __init__(self, evaluator: Evaluator, as_of: date) -> None:
        self.evaluator = evaluator
        self.as_of = as_of
        defaults = evaluator.ruleset.defaults
        self.lookback_days = defaults.lookback_days
        self.exclusion_sets = frozenset(defaults.exclusion_condition_sets)

    def judge(
        self,
        patient_id: str,
        resources: Sequence[Mapping[str, Any]],
        practice: Practice,
    ) -> WorklistRow | None:
        """The row of a patient, or None when the patient is not listed."""
        if not any(r.get("resourceType") in MEDICATION_TYPES for r in resources):
            return None  # no history, so no covered day: nothing the rule could count
        context = {"patientId": patient_id, "userId": WORKLIST_USER}
        call = EvaluationInput(
            hook=PATIENT_VIEW.hook,
            context=context,
            draft_orders=DraftOrders(),
            resources=resources,
            today=self.as_of,
        )
        # `Evaluator.evaluate` in two steps, so that a patient without any opioid in their
        # history (most of them) costs only the facts.
        facts = build_facts(
            hook=call.hook,
            context=call.context,
            draft_orders=call.draft_orders,
            resources=call.resources,
            today=call.today,
            catalogue=self.evaluator.catalogue,
            settings=self.evaluator.fact_settings,
        )
        if not facts.patient.history:
            return None
        evaluation = self.evaluator.evaluate_facts(facts, call)
        on_oat = self._on_oat(facts)
        if CHRONIC_RULE in evaluation.fired_rule_ids:
            section = "chronic"
        elif self._fires_without_exclusion(facts, call):
            section = "palliative"
        elif on_oat:
            section = "oat"
        else:
            return None
        return self._row(section, patient_id, facts, practice, on_oat)

    def _fires_without_exclusion(self, facts: Facts, call: EvaluationInput) -> bool:
        """Would the card fire if palliative care or cancer did not switch it off?"""
        sets = facts.patient.condition_sets
        if not sets & self.exclusion_sets:
            return False
        patient = replace(facts.patient, condition_sets=sets - self.exclusion_sets)
        evaluation = self.evaluator.evaluate_facts(replace(facts, patient=patient), call)
        return CHRONIC_RULE in evaluation.fired_rule_ids

    def _on_oat(self, facts: Facts) -> bool:
        # As the card's `on_oat`: an OAT exposure that had not ended before the look-back.
        since = self.as_of - timedelta(days=self.lookback_days)
        return any(
            exposure.is_oat and (exposure.end is None or exposure.end >= since)
            for exposure in facts.patient.history
        )

    def _row(
        self, section: str, patient_id: str, facts: Facts, practice: Practice, on_oat: bool
    ) -> WorklistRow:
        patient = facts.patient
        window_start = add_days(self.as_of, 1 - self.lookback_days)
        in_window = [
            e
            for e in patient.history
            if e.start is not None
            and e.start <= self.as_of
            and (e.end is None or e.end >= window_start)
        ]
        oat_intervals = [
            (max(e.start, window_start), min(e.end or self.as_of, self.as_of))
            for e in in_window
            if e.is_oat and e.start is not None
        ]
        last = patient.last_prior_prescription
        return WorklistRow(
            section=section,
            patient=patient_id,
            gp=practice.gp,
            practice=practice.practice,
            covered_days=patient.prior_opioid_days,
            oat_days=covered_days(oat_intervals),
            substances=tuple(sorted({s for e in in_window for s in e.substances})),
            ome_mg_per_day=round(patient.total_ome_mg_per_day, 1)
            if any(c.ome_mg_per_day is not None for c in patient.ome_contributions)
            else None,
            last_prescription=last.prescribed_on if last else None,
            last_physical_consult=patient.last_physical_consult,
            on_oat=on_oat,
        )
