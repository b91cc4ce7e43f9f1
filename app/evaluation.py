"""Loading the rule engine the service runs: the rule set (plus practice overlays) and the
terminology catalogue, once at start-up. A broken rule set stops the service from starting."""

from __future__ import annotations

from app.settings import Settings
from rules.catalogue import load_catalogue
from rules.engine import Evaluation, EvaluationInput, Evaluator
from rules.rulesets import load_ruleset

__all__ = ["Evaluation", "EvaluationInput", "Evaluator", "load_evaluator"]


def load_evaluator(settings: Settings) -> Evaluator:
    ruleset = load_ruleset(settings.ruleset_path, settings.practice_overlays_path)
    return Evaluator(ruleset, load_catalogue())
