"""Rule sets as data: the schema, the loader and the validator.

A rule set is a YAML file (default: `rules/rulesets/eemland.yaml`) with the region's thresholds,
texts, links, referral routes and override reasons per rule. It names two directory files (the
patient/clinician links and the referral directory) relative to itself. Practice (or wijk/hagro)
overlays, keyed by the organisation's AGB code, live in a separate file and override rule
parameters and the `enabled` flag only.

Every problem is reported as `FILE:LINE: FIELD: message`: the YAML is composed into a node tree
first (PyYAML keeps the start mark of every node), pydantic's error locations are then walked
down that tree to the deepest node that exists, and its line is reported.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rules.facts import FactSettings
from rules.hooks import HookName
from rules.registry import RULE_REGISTRY, load_builtin_rules

RULESETS_DIR = Path(__file__).parent
DEFAULT_RULESET_PATH = RULESETS_DIR / "eemland.yaml"
DEFAULT_OVERLAYS_PATH = RULESETS_DIR / "practices.yaml"

Indicator = Literal["info", "warning", "critical"]
Exclusion = Literal["palliative-or-cancer", "oat", "antitussive-codeine"]
ParameterValue = int | float | bool | str | list[str]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
AgbCode = Annotated[str, Field(pattern=r"^[0-9]{8}$")]


# --- problems --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSetProblem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class RuleSetError(Exception):
    """A rule set, overlay or directory file is broken; `.problems` says where and why."""

    def __init__(self, problems: Sequence[RuleSetProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


# --- schema ----------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalizedText(_Strict):
    """A text in Dutch (the default) and English. `{name}` placeholders are filled at render."""

    nl: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.nl

    @cached_property
    def placeholders(self) -> frozenset[str]:
        names: set[str] = set()
        for text in (self.nl, self.en):
            for _, field_name, _, _ in string.Formatter().parse(text):
                if field_name:
                    names.add(field_name)
        return frozenset(names)


class SourceSpec(_Strict):
    label: LocalizedText
    document: str
    seed: str
    url: str


class RuleSetDefaults(_Strict):
    lookback_days: Annotated[int, Field(ge=1, le=3650)] = 90
    new_user_lookback_days: Annotated[int, Field(ge=1, le=3650)] = 365
    chronic_threshold_days: Annotated[int, Field(ge=1, le=365)] = 28
    suppress_in_palliative_or_cancer: bool = True
    assume_gp_when_unknown: bool = True
    exclusion_condition_sets: list[str] = Field(default_factory=lambda: ["palliative_or_cancer"])
    """Catalogue condition sets (active Condition, or the order's indication) that switch off
    the rules listing the `palliative-or-cancer` exclusion."""
    referral_suggestions: Annotated[int, Field(ge=1, le=10)] = 3
    """At most this many referral routes per card, the first that fit the patient; the
    regional page's expertise map lists the rest."""

    @property
    def fact_settings(self) -> FactSettings:
        """The defaults that change what the facts say (look-back windows, assumed role)."""
        return FactSettings(
            lookback_days=self.lookback_days,
            new_user_lookback_days=self.new_user_lookback_days,
            assume_gp_when_unknown=self.assume_gp_when_unknown,
        )


class OverrideReasonSpec(_Strict):
    display: LocalizedText


class RuleSpec(_Strict):
    number: Annotated[int, Field(ge=0)]
    enabled: bool = True
    agreement: bool = False
    """A regional agreement (rules 1-11): the card says the pharmacy calls on deviation."""
    listed_last: bool = False
    """Background (education, what could not be checked): shown after the safety and agreement
    cards of the same indicator, which come in that order."""
    indicator: Indicator
    hooks: Annotated[list[HookName], Field(min_length=1)]
    exclusions: list[Exclusion] = Field(default_factory=list)
    source_lines: Annotated[str, Field(min_length=1)]
    source_quote: str | None = None
    """The source text the rule rests on, verbatim (for docs/rules.md)."""
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)
    title: LocalizedText
    when: LocalizedText
    summary: LocalizedText
    detail: LocalizedText
    texts: dict[str, LocalizedText] = Field(default_factory=dict)
    links: list[str] = Field(default_factory=list)
    referrals: list[str] = Field(default_factory=list)
    """Referral routes (directory ids) in order of preference."""
    referrals_if_opioid_use_disorder: list[str] = Field(default_factory=list)
    """The routes, in order of preference, for a patient with an opioid use disorder."""
    override_reasons: list[str] = Field(default_factory=list)
    reasons_on_prescription: Annotated[list[LocalizedText], Field(max_length=3)] = Field(
        default_factory=list
    )
    """Common reasons to deviate from this agreement, offered as suggestions that write the
    reason into the drafted order's note, so the pharmacy sees it and need not phone."""
    reason_note: LocalizedText | None = None
    """The note such a suggestion writes ({reason}, {agreement}); default the shared
    `reason_note` ("Reden afwijking werkafspraak …"), which does not fit every rule."""


class DirectoryFiles(_Strict):
    links: str
    referrals: str


class RuleSetFile(_Strict):
    id: Identifier
    version: Annotated[str, Field(min_length=1)]
    region: Annotated[str, Field(min_length=1)]
    source: SourceSpec
    directory: DirectoryFiles
    defaults: RuleSetDefaults = Field(default_factory=RuleSetDefaults)
    shared_texts: dict[str, LocalizedText] = Field(default_factory=dict)
    override_reasons: dict[str, OverrideReasonSpec] = Field(default_factory=dict)
    rules: dict[str, RuleSpec]


class LinkEntry(_Strict):
    label: LocalizedText
    url: Annotated[str, Field(pattern=r"^https://")]
    audience: Literal["patient", "clinician"]
    source: str


class LinkCatalogue(_Strict):
    links: dict[str, LinkEntry]
    # apotheek.nl page per substance; only the oxycodon page is in the handbook, the others follow
    # the same URL pattern (DERIVED).
    apotheek_page_pattern: str = "https://www.apotheek.nl/medicijnen/{slug}"
    apotheek_slugs: dict[str, str] = Field(default_factory=dict)
    apotheek_product_slugs_by_atc: dict[str, str] = Field(default_factory=dict)
    """A combination product's own page (paracetamol/codeïne), by the product's ATC code."""


class Contact(_Strict):
    route: Annotated[str, Field(min_length=1)] | LocalizedText
    """How to reach it; a plain string is the same in every language (e.g. "ZorgDomein")."""
    url: str | None = None
    phone: str | None = None

    def route_in(self, language: str) -> str:
        return self.route if isinstance(self.route, str) else self.route.get(language)


class Referral(_Strict):
    name: Annotated[str, Field(min_length=1)]
    purpose: LocalizedText
    contact: Contact
    snomed_code: Annotated[str, Field(pattern=r"^[0-9]+$")]
    snomed_display: str
    already_in_place_for: list[Literal["oat"]] = Field(default_factory=list)
    """Not suggested for these patients: the care is already there (`oat`: addiction care
    provides the opioid agonist treatment)."""
    source: str


class PostcodeRoute(_Strict):
    """Patients in these postcode areas get `replacement` instead of the referrals listed."""

    area: str
    postcode_ranges: Annotated[list[tuple[int, int]], Field(min_length=1)]
    replaces: list[str]
    replacement: str
    source: str

    def covers(self, postcode: str) -> bool:
        digits = postcode.strip()[:4]
        if not digits.isdigit():
            return False
        number = int(digits)
        return any(low <= number <= high for low, high in self.postcode_ranges)


class ReferralDirectory(_Strict):
    referrals: dict[str, Referral]
    postcode_routes: list[PostcodeRoute] = Field(default_factory=list)


class Overlay(_Strict):
    """Overrides for one practice, wijk or hagro, keyed by its AGB code."""

    name: str
    kind: Literal["practice", "wijk", "hagro"] = "practice"
    member_of: AgbCode | None = None
    rules: dict[str, RuleOverride] = Field(default_factory=dict)


class RuleOverride(_Strict):
    enabled: bool | None = None
    parameters: dict[str, ParameterValue] = Field(default_factory=dict)


class OverlayFile(_Strict):
    overlays: dict[AgbCode, Overlay] = Field(default_factory=dict)

    @field_validator("overlays", mode="before")
    @classmethod
    def _keys_as_strings(cls, value: Any) -> Any:
        # An unquoted AGB code is read by YAML as an int; accept it, the pattern still applies.
        if isinstance(value, dict):
            return {str(key): item for key, item in value.items()}
        return value


Overlay.model_rebuild()


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set with its directory files and overlays."""

    file: RuleSetFile
    links: LinkCatalogue
    directory: ReferralDirectory
    overlays: Mapping[str, Overlay]
    path: Path

    @property
    def id(self) -> str:
        return self.file.id

    @property
    def version(self) -> str:
        return self.file.version

    @property
    def defaults(self) -> RuleSetDefaults:
        return self.file.defaults

    @property
    def rules(self) -> Mapping[str, RuleSpec]:
        return self.file.rules

    def overlay_chain(self, agb_code: str | None) -> list[Overlay]:
        """The overlays that apply to an organisation, outermost (wijk/hagro) first."""
        chain: list[Overlay] = []
        seen: set[str] = set()
        code = agb_code
        while code is not None and code in self.overlays and code not in seen:
            seen.add(code)
            overlay = self.overlays[code]
            chain.insert(0, overlay)
            code = overlay.member_of
        return chain

    def parameters_for(self, rule_id: str, agb_code: str | None = None) -> dict[str, Any]:
        parameters: dict[str, Any] = dict(self.rules[rule_id].parameters)
        for overlay in self.overlay_chain(agb_code):
            override = overlay.rules.get(rule_id)
            if override is not None:
                parameters.update(override.parameters)
        return parameters

    def enabled_for(self, rule_id: str, agb_code: str | None = None) -> bool:
        enabled = self.rules[rule_id].enabled
        for overlay in self.overlay_chain(agb_code):
            override = overlay.rules.get(rule_id)
            if override is not None and override.enabled is not None:
                enabled = override.enabled
        return enabled


# --- YAML with line numbers ------------------------------------------------------------------


def _line_of(root: yaml.Node | None, location: Sequence[int | str]) -> int:
    """The 1-based line of the deepest node on `location` that exists in the YAML tree."""
    if root is None:
        return 1
    node: yaml.Node = root
    for part in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    child = value_node
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


@dataclass
class _Document:
    path: Path
    data: Any
    root: yaml.Node | None

    def problem(self, location: Sequence[int | str], message: str) -> RuleSetProblem:
        field = ".".join(str(part) for part in location) or "(root)"
        return RuleSetProblem(str(self.path), _line_of(self.root, location), field, message)


def _read_yaml(path: Path) -> _Document | RuleSetProblem:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return RuleSetProblem(str(path), 1, "(file)", f"cannot read: {exc.strerror or exc}")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else 1
        return RuleSetProblem(str(path), line, "(yaml)", str(exc).replace("\n", " "))
    return _Document(path, data, root)


_M = TypeVar("_M", bound=BaseModel)


def _validate_model(
    document: _Document, model: type[_M], problems: list[RuleSetProblem]
) -> _M | None:
    try:
        return model.model_validate(document.data if document.data is not None else {})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            location = [part for part in error["loc"] if isinstance(part, int | str)]
            # pydantic appends the union member / tuple position; keep what exists in the file
            problems.append(document.problem(location, error["msg"]))
        return None


# --- cross-reference checks ------------------------------------------------------------------


# Shared texts the renderer and the rules use; a rule set must define each of them.
REQUIRED_SHARED_TEXTS = (
    "pharmacy_calls",
    "orders_heading",
    "referral_label",
    "as_needed",
    "times_a_day",
    "days",
    "indefinite",
    "more_than_a_year",
    "unknown",
    "unknown_duration",
    "prescribers",
    "pharmacies",
    "date_format",
)


REASON_SHARED_TEXTS = ("reason_label", "reason_description", "reason_note")
"""Needed once a rule offers `reasons_on_prescription`."""


def _nearest(name: str, known: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for a misspelt id, else the ids there are."""
    ids = sorted(known)
    close = difflib.get_close_matches(name, ids, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(ids)})"


def _check_references(
    document: _Document,
    ruleset: RuleSetFile,
    links: LinkCatalogue | None,
    directory: ReferralDirectory | None,
) -> list[RuleSetProblem]:
    load_builtin_rules()
    problems: list[RuleSetProblem] = []
    required = list(REQUIRED_SHARED_TEXTS)
    if any(spec.reasons_on_prescription for spec in ruleset.rules.values()):
        required += REASON_SHARED_TEXTS
    missing_texts = [key for key in required if key not in ruleset.shared_texts]
    if missing_texts:
        problems.append(
            document.problem(["shared_texts"], f"missing shared text(s) {missing_texts}")
        )
    for rule_id, spec in ruleset.rules.items():
        where: list[int | str] = ["rules", rule_id]
        definition = RULE_REGISTRY.get(rule_id)
        if definition is None:
            problems.append(
                document.problem(
                    where, f"no rule is registered with this id{_nearest(rule_id, RULE_REGISTRY)}"
                )
            )
            continue
        problems.extend(_check_parameters(document, where, definition.parameters, spec.parameters))
        documented = frozenset(definition.parameters.model_fields) | frozenset(
            RuleSetDefaults.model_fields
        )
        for field_name in ("title", "when", "summary", "detail"):
            text: LocalizedText = getattr(spec, field_name)
            # `when` is documentation: it may name the rule's parameters and the defaults.
            allowed = documented if field_name == "when" else definition.placeholders
            unknown = text.placeholders - allowed
            if unknown:
                problems.append(
                    document.problem(
                        [*where, field_name],
                        f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}",
                    )
                )
        for variant, text in spec.texts.items():
            unknown = text.placeholders - definition.placeholders
            if unknown:
                problems.append(
                    document.problem(
                        [*where, "texts", variant], f"unknown placeholder(s) {sorted(unknown)}"
                    )
                )
        missing_variants = definition.text_variants - set(spec.texts)
        if missing_variants:
            problems.append(
                document.problem(
                    [*where, "texts"], f"missing text variant(s) {sorted(missing_variants)}"
                )
            )
        for index, reason in enumerate(spec.override_reasons):
            if reason not in ruleset.override_reasons:
                problems.append(
                    document.problem(
                        [*where, "override_reasons", index], f"unknown override reason {reason!r}"
                    )
                )
        if links is not None:
            for index, link_id in enumerate(spec.links):
                if link_id not in links.links and link_id != "apotheek-substance":
                    problems.append(
                        document.problem([*where, "links", index], f"unknown link {link_id!r}")
                    )
        if directory is not None:
            for field_name in ("referrals", "referrals_if_opioid_use_disorder"):
                for index, referral_id in enumerate(getattr(spec, field_name)):
                    if referral_id not in directory.referrals:
                        problems.append(
                            document.problem(
                                [*where, field_name, index], f"unknown referral {referral_id!r}"
                            )
                        )
    return problems


def _check_parameters(
    document: _Document,
    where: list[int | str],
    model: type[BaseModel],
    parameters: Mapping[str, Any],
) -> list[RuleSetProblem]:
    try:
        model.model_validate(dict(parameters))
    except ValidationError as exc:
        return [
            document.problem(
                [*where, "parameters", *[p for p in error["loc"] if isinstance(p, int | str)]],
                error["msg"],
            )
            for error in exc.errors(include_url=False)
        ]
    return []


def _check_overlays(
    document: _Document, overlays: OverlayFile, ruleset: RuleSetFile
) -> list[RuleSetProblem]:
    load_builtin_rules()
    problems: list[RuleSetProblem] = []
    for agb, overlay in overlays.overlays.items():
        if overlay.member_of is not None and overlay.member_of not in overlays.overlays:
            problems.append(
                document.problem(
                    ["overlays", agb, "member_of"], f"no overlay with AGB {overlay.member_of}"
                )
            )
        for rule_id, override in overlay.rules.items():
            where: list[int | str] = ["overlays", agb, "rules", rule_id]
            if rule_id not in ruleset.rules or rule_id not in RULE_REGISTRY:
                known = [known_id for known_id in ruleset.rules if known_id in RULE_REGISTRY]
                problems.append(
                    document.problem(where, f"unknown rule id{_nearest(rule_id, known)}")
                )
                continue
            merged = {**ruleset.rules[rule_id].parameters, **override.parameters}
            problems.extend(
                _check_parameters(document, where, RULE_REGISTRY[rule_id].parameters, merged)
            )
    return problems


# --- public API ------------------------------------------------------------------------------


def _load(path: Path, overlays_path: Path | None) -> tuple[RuleSet | None, list[RuleSetProblem]]:
    problems: list[RuleSetProblem] = []
    document = _read_yaml(path)
    if isinstance(document, RuleSetProblem):
        return None, [document]
    ruleset_file = _validate_model(document, RuleSetFile, problems)
    if ruleset_file is None:
        return None, problems

    links: LinkCatalogue | None = None
    directory: ReferralDirectory | None = None
    for attribute, model in (("links", LinkCatalogue), ("referrals", ReferralDirectory)):
        sub_path = (path.parent / getattr(ruleset_file.directory, attribute)).resolve()
        sub_document = _read_yaml(sub_path)
        if isinstance(sub_document, RuleSetProblem):
            problems.append(sub_document)
            continue
        loaded = _validate_model(sub_document, model, problems)
        if isinstance(loaded, LinkCatalogue):
            links = loaded
        elif isinstance(loaded, ReferralDirectory):
            directory = loaded
            for index, route in enumerate(loaded.postcode_routes):
                for name in (*route.replaces, route.replacement):
                    if name not in loaded.referrals:
                        problems.append(
                            sub_document.problem(
                                ["postcode_routes", index], f"unknown referral {name!r}"
                            )
                        )
    problems.extend(_check_references(document, ruleset_file, links, directory))

    overlays: dict[str, Overlay] = {}
    if overlays_path is not None:
        overlay_document = _read_yaml(overlays_path)
        if isinstance(overlay_document, RuleSetProblem):
            problems.append(overlay_document)
        else:
            overlay_file = _validate_model(overlay_document, OverlayFile, problems)
            if overlay_file is not None:
                problems.extend(_check_overlays(overlay_document, overlay_file, ruleset_file))
                overlays = dict(overlay_file.overlays)

    if problems or links is None or directory is None:
        return None, problems
    return RuleSet(ruleset_file, links, directory, overlays, path), []


def ruleset_json_schema() -> dict[str, Any]:
    """JSON Schema of a rule set file (for editors; `rules/rulesets/ruleset.schema.json`).

    It checks the shape only; rule ids, parameters, placeholders and references are checked by
    `validate_ruleset_file`, which knows the registered rules.
    """
    schema: dict[str, Any] = RuleSetFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "opioid-cds rule set"
    return schema


def load_ruleset(path: Path | None = None, overlays_path: Path | None = None) -> RuleSet:
    """Load and validate a rule set (default: Eemland with its practice overlays).

    Raises `RuleSetError` naming file, line and field of every problem found.
    """
    if path is None:
        path = DEFAULT_RULESET_PATH
        if overlays_path is None and DEFAULT_OVERLAYS_PATH.exists():
            overlays_path = DEFAULT_OVERLAYS_PATH
    ruleset, problems = _load(Path(path), Path(overlays_path) if overlays_path else None)
    if ruleset is None:
        raise RuleSetError(problems)
    return ruleset


def validate_ruleset_file(path: Path, overlays_path: Path | None = None) -> list[RuleSetProblem]:
    """All problems of a rule set file (and its directory files and overlays); empty when valid.

    A file that is itself an overlay file (top-level `overlays:`) is validated against the
    default rule set.
    """
    path = Path(path)
    document = _read_yaml(path)
    is_overlay_file = (
        isinstance(document, _Document)
        and isinstance(document.data, dict)
        and set(document.data) == {"overlays"}
    )
    if is_overlay_file:
        return _load(DEFAULT_RULESET_PATH, path)[1]
    return _load(path, Path(overlays_path) if overlays_path else None)[1]
