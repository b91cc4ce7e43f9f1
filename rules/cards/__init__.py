"""Cards: a rule's finding rendered as a CDS Hooks `Card` model, with its links, suggestions
and override reasons, in Dutch or English."""

from rules.cards.render import (
    EXPLANATION_KEY,
    OVERRIDE_REASON_SYSTEM,
    RULE_TOPIC_SYSTEM,
    CardRenderer,
)
from rules.cards.suggestions import ReferralTemplates, SuggestionFactory

__all__ = [
    "EXPLANATION_KEY",
    "OVERRIDE_REASON_SYSTEM",
    "RULE_TOPIC_SYSTEM",
    "CardRenderer",
    "ReferralTemplates",
    "SuggestionFactory",
]
