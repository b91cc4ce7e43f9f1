"""Readable rules for people: the rule set rendered as Markdown (`opioid-cds rules docs`).

The output is generated from the same YAML the engine runs, so docs/rules.md cannot drift from
what the service does. Regenerate after changing a rule set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.registry import RULE_REGISTRY, load_builtin_rules
from rules.rulesets.model import RuleSet, RuleSpec

__all__ = ["ExampleCard", "render_rules_markdown"]


@dataclass(frozen=True)
class ExampleCard:
    """A card the service sent for a fixture (its CDS Hooks JSON), shown under its rule."""

    fixture: str
    language: str
    card: Mapping[str, Any]


_INDICATOR_MARK = {"critical": "⛔ critical", "warning": "⚠️ warning", "info": "ℹ️ info"}


def _example_lines(example: ExampleCard) -> list[str]:
    """The card as a quoted block: what an EHR shows, in the order it shows it."""
    card = example.card
    language = "Nederlands" if example.language == "nl" else "English"
    body = [f"{_INDICATOR_MARK.get(card['indicator'], card['indicator'])} · **{card['summary']}**"]
    if card.get("detail"):
        body += ["", *card["detail"].splitlines()]
    suggestions = [suggestion["label"] for suggestion in card.get("suggestions", [])]
    if suggestions:
        body += ["", "Suggestions:", *(f"- {label}" for label in suggestions)]
    links = [f"[{link['label']}]({link['url']})" for link in card.get("links", [])]
    if links:
        body += ["", "Links: " + " · ".join(links)]
    reasons = [reason["display"] for reason in card.get("overrideReasons", [])]
    if reasons:
        body += ["", "Override reasons: " + " · ".join(reasons)]
    return [
        f"<details><summary>Example card ({language}), fixture "
        f"<code>{example.fixture}</code></summary>",
        "",
        *(f"> {line}".rstrip() for line in body),
        "",
        "</details>",
        "",
    ]


HANDBOOK = "Handleiding: Chronisch gebruik Opioïden (Huisartsen Eemland, 2025)"
"""The regional handbook the agreement rules rest on. It has no page numbers: rules cite it by
phase (fase 1-3), step (stap) and section heading."""

_SOURCES = {
    "Handleiding Eemland": f"*{HANDBOOK}*",
    "Internationale normen": (
        "*Internationale normen voor de behandeling van stoornissen in het gebruik van drugs*"
        " (UNODC/WHO, herziene editie)"
    ),
}
"""Short names used in a rule's `source_lines`, and the full citation docs/rules.md prints."""

_SOURCES_SECTION = [
    "## Sources",
    "",
    "The rules rest on these documents (they are not part of the repository). Rules cite them",
    "by section; the documents have no usable page numbers, so a citation names the phase, step",
    "and section heading, and quotes the text «…» where the wording matters.",
    "",
    f"- *{HANDBOOK}*,",
    '  the regional handbook of the project Opioïden 2023-2025, cited as "Handleiding Eemland".',
    "  The primary source: the working agreements of **fase 1** (§2.1",
    '  "Wijkaanpak voorkomen nieuwe (chronische) gebruikers", stap 1-5; the agreements are in',
    '  stap 3 "Maak werkafspraken en leg deze afspraken vast", block «Werkafspraken bij keuze',
    '  opioïden»), **fase 2** (§2.2 "Werkafspraken tussen 1e en 2e lijn": ownership of specialist',
    '  prescriptions), **fase 3** (§3.1 "(In beeld krijgen van de) Chronische gebruiker", stap 1',
    '  "In kaart brengen van de chronische gebruikers", stap 2 "De patiënt benaderen", stap 3',
    '  "De patiënt motiveren", stap 4 "Expertises in de wijk/gemeente/regio in kaart"), and §4',
    '  "Toelichting Visual ‘Huisarts en de patiënt met opioïden’" (Hulpbronnen,',
    "  Patiëntinformatie, Gespreksvoering, referral routes).",
    "- *Internationale normen voor de behandeling van stoornissen in het gebruik van drugs:",
    "  herziene editie met opname van de resultaten van praktijktesten* (UNODC/WHO, revised",
    '  edition 2020, Dutch translation), cited as "Internationale normen": the safety facts of',
    "  rules 13, 14 and 16 (sedatives, overdose and naloxone, pregnancy).",
    "- *Implementatieplan Zorgstandaard Opiaatverslaving* (c. 2018), *Een visie op verslaving en",
    "  verslavingszorg: focus op preventie en herstel* (GGZ Nederland, 2013) and the Flemish",
    "  *visietekst* on addiction care (conference «Verslavingszorg», 2015): background on",
    "  addiction care; no rule rests on them alone.",
    "",
    "The definitions every rule reads (opioid, release type, dose, duration, prescriber role,",
    "physical consult, history, exclusions) and what every card carries are in",
    "[definitions.md](definitions.md).",
    "",
]


class _Keep(dict[str, Any]):
    """Leaves unknown `{placeholders}` as they are (they are filled per call)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"`{item}`" for item in value) or "–"
    return f"`{value}`"


def _source(source_lines: str) -> str:
    """`source_lines` is `;`-separated; a part starting with a short name gets the full title
    (the first time; later parts on the same document keep only their section)."""
    parts = []
    named: set[str] = set()
    for part in source_lines.split(";"):
        part = part.strip()
        for short, full in _SOURCES.items():
            if part.startswith(short):
                section = part[len(short) :]
                part = section.lstrip(", ") if short in named else full + section
                named.add(short)
                break
        parts.append(part)
    return "; ".join(parts)


def _rule_section(
    ruleset: RuleSet, rule_id: str, spec: RuleSpec, examples: Sequence[ExampleCard] | None
) -> list[str]:
    definition = RULE_REGISTRY[rule_id]
    parameters = definition.parameters.model_validate(spec.parameters).model_dump()
    values = _Keep({**ruleset.defaults.model_dump(), **parameters})
    lines = [
        f"### {spec.number}. `{rule_id}`: {spec.title.nl}",
        "",
        f"*{spec.title.en}*",
        "",
        f"- **Fires when:** {spec.when.nl.format_map(values)}",
        f"  <br>*{spec.when.en.format_map(values)}*",
        f"- **Severity (indicator):** `{spec.indicator}`"
        + (
            " (default; the rule may raise or lower it, see the text)"
            if rule_id in _VARIABLE
            else ""
        ),
        f"- **Hooks:** {', '.join(f'`{hook}`' for hook in spec.hooks)}",
        f"- **Enabled:** {'yes' if spec.enabled else 'no'}"
        + ("; a regional agreement (the card says the pharmacy calls)" if spec.agreement else ""),
        f"- **Not for:** {', '.join(_EXCLUSIONS[e] for e in spec.exclusions) or 'no exclusions'}",
        f"- **Source:** {_source(spec.source_lines)}"
        + (f": «{spec.source_quote}»" if spec.source_quote else ""),
        f"- **Card summary (nl):** {spec.summary.nl}",
    ]
    if parameters:
        lines.append("- **Parameters** (a practice overlay may override them):")
        lines.extend(f"  - `{name}` = {_value(value)}" for name, value in parameters.items())
    if spec.links:
        lines.append(f"- **Links:** {', '.join(f'`{link}`' for link in spec.links)}")
    if spec.referrals:
        lines.append(f"- **Referral suggestions:** {', '.join(f'`{r}`' for r in spec.referrals)}")
    if spec.referrals_if_opioid_use_disorder:
        routes = ", ".join(f"`{r}`" for r in spec.referrals_if_opioid_use_disorder)
        lines.append(f"- **Referral suggestions with an opioid use disorder:** {routes}")
    if spec.override_reasons:
        reasons = ", ".join(
            ruleset.file.override_reasons[code].display.nl for code in spec.override_reasons
        )
        lines.append(f"- **Override reasons:** {reasons}")
    if spec.reasons_on_prescription:
        stated = "; ".join(f"«{reason.nl}»" for reason in spec.reasons_on_prescription)
        lines.append(f"- **Reasons on the prescription (suggestions):** {stated}")
    lines.append(f"- **Code:** `{definition.module}`")
    lines.append("")
    if examples is not None:
        for example in examples:
            lines.extend(_example_lines(example))
        if not examples:
            lines += ["*No fixture fires this rule yet, so there is no example card.*", ""]
    return lines


_VARIABLE = {"dosing-frequency", "opioid-sedative-combination"}
_EXCLUSIONS = {
    "palliative-or-cancer": "palliative care / cancer (setting `suppress_in_palliative_or_cancer`)",
    "oat": "opioid agonist treatment (methadone/buprenorphine for opioid dependence)",
    "antitussive-codeine": "codeine for cough (ATC R05DA04, or a cough indication)",
}


def render_rules_markdown(
    ruleset: RuleSet, examples: Mapping[str, Sequence[ExampleCard]] | None = None
) -> str:
    """docs/rules.md for a rule set: every rule, when it fires, severity, parameters, source,
    and with `examples` (per rule id) its example cards."""
    load_builtin_rules()
    source = ruleset.file.source
    ordered = sorted(ruleset.rules.items(), key=lambda item: item[1].number)
    lines = [
        f"# Rules of rule set `{ruleset.id}` {ruleset.version} ({ruleset.file.region})",
        "",
        "<!-- Generated by `opioid-cds rules docs` from "
        f"{ruleset.path.name}; do not edit by hand. -->",
        "",
        f"Implements *{source.document}* ({source.url}).",
        "Cards carry the rule id as `source.topic.code` (system `urn:opioid-cds:rule`).",
        "",
        *_SOURCES_SECTION,
        "## Defaults",
        "",
        "| setting | value |",
        "|---|---|",
    ]
    lines.extend(f"| `{name}` | {_value(value)} |" for name, value in ruleset.defaults)
    lines += [
        "",
        "## Overview",
        "",
        "| # | id | title | severity | hooks |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {spec.number} | `{rule_id}` | {spec.title.nl} | {spec.indicator} | "
        f"{', '.join(spec.hooks)} |"
        for rule_id, spec in ordered
    )
    lines += ["", "## Rules", ""]
    for rule_id, spec in ordered:
        rule_examples = None if examples is None else examples.get(rule_id, [])
        lines.extend(_rule_section(ruleset, rule_id, spec, rule_examples))
    if ruleset.overlays:
        lines += [
            "## Practice, wijk and hagro overlays",
            "",
            "| AGB | name | kind | member of | overrides |",
            "|---|---|---|---|---|",
        ]
        for agb, overlay in sorted(ruleset.overlays.items()):
            overrides = "; ".join(
                f"`{rule_id}`: "
                + ", ".join(f"{name} = {value}" for name, value in override.parameters.items())
                + ("" if override.enabled is None else f" enabled = {override.enabled}")
                for rule_id, override in overlay.rules.items()
            )
            lines.append(
                f"| {agb} | {overlay.name} | {overlay.kind} | {overlay.member_of or '–'} | "
                f"{overrides} |"
            )
        lines.append("")
    return "\n".join(lines)
