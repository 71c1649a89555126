"""Jurisdiction rules as versioned data: consent regime, GPC duties and DSAR deadlines per jurisdiction.

The facts live in ``core/data/jurisdiction_rules.json`` (each with sources and [verify] notes); this module
validates, loads and looks them up. Pure: no ORM, no Django settings.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.jurisdictions import country_of, normalize_jurisdiction

DATA_PACKAGE = "core"
DATA_PATH = "data/jurisdiction_rules.json"
FALLBACK = "*"

Regime = Literal["opt_in", "opt_out"]
REGIMES: frozenset[str] = frozenset({"opt_in", "opt_out"})
# "sharing" is California's cross-context behavioural advertising (§7025); the others' term is targeted advertising.
SIGNAL_CATEGORIES: frozenset[str] = frozenset({"sale", "sharing", "targeted_advertising"})
NO_DSAR_REGIME = "none"

EU_MEMBER_STATES: frozenset[str] = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)
EEA_EFTA_STATES: frozenset[str] = frozenset({"IS", "LI", "NO"})

_TOP_LEVEL_KEYS = frozenset({"version", "gpc_last_update", "description", "jurisdictions"})
_RULE_KEYS = frozenset(
    {
        "code",
        "name",
        "law",
        "regime",
        "signal_binding_from",
        "signal_covers",
        "allows_post_signal_consent",
        "resolicit_wait_months",
        "optout_processing_business_days",
        "optout_processing_calendar_days",
        "dsar",
        "sources",
        "notes",
    }
)
_DSAR_KEYS = frozenset(
    {
        "regime",
        "response",
        "extension",
        "extension_notice_within",
        "confirm_receipt_business_days",
        "appeal_response_days",
        "holiday_calendar",
        "time_zone",
    }
)
_PERIOD_UNITS = frozenset({"months", "days"})
_MAX_PERIOD = {"months": 12, "days": 366}
_MAX_COUNT = 366

_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# RFC 3339 §5.6 date-time: full-date "T" partial-time time-offset ("T" and "Z" may be lower case).
_DATE_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.\d+)?"
    r"(?:[Zz]|[+-](?P<offset_hour>\d{2}):(?P<offset_minute>\d{2}))$"
)
_DSAR_REGIME = re.compile(r"^[a-z][a-z0-9_]*$")
# REGULATORY.md §0 names WEEKENDS_ONLY, US-FED, EU-DE and EU-IE; other EU states follow EU-<CC>, others <CC>.
_HOLIDAY_CALENDAR = re.compile(r"^(?:WEEKENDS_ONLY|US-FED|EU-[A-Z]{2}|[A-Z]{2})$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


class ProblemKind(StrEnum):
    """What is wrong with a rule table; the system check maps each kind to a stable error id."""

    UNREADABLE = "unreadable"
    STRUCTURE = "structure"
    GPC_LAST_UPDATE = "gpc_last_update"
    MISSING_SOURCE = "missing_source"
    BAD_DATE = "bad_date"
    UNKNOWN_REGIME = "unknown_regime"
    UNKNOWN_SIGNAL_CATEGORY = "unknown_signal_category"
    SIGNAL_WITHOUT_CATEGORIES = "signal_without_categories"
    DUPLICATE_CODE = "duplicate_code"
    BAD_FIELD = "bad_field"
    MISSING_FALLBACK = "missing_fallback"
    BAD_DSAR = "bad_dsar"


@dataclass(frozen=True)
class RuleProblem:
    kind: ProblemKind
    message: str


class RuleTableError(ValueError):
    """The rule table cannot be read or does not validate."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(problem.message for problem in problems))


@dataclass(frozen=True)
class Period:
    """A statutory period: whole calendar months or calendar days (exactly one is non-zero)."""

    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if (self.months > 0) == (self.days > 0) or self.months < 0 or self.days < 0:
            raise ValueError("a period is a positive number of months or of days, not both")

    def __str__(self) -> str:
        count, unit = (self.months, "month") if self.months else (self.days, "day")
        return f"{count} {unit}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class DsarDeadlines:
    """The deadlines the DSAR deadline engine applies for one jurisdiction (``regime == "none"``: no statute)."""

    regime: str
    response: Period | None
    extension: Period | None
    extension_notice_within: Period | None
    confirm_receipt_business_days: int | None
    appeal_response_days: int | None
    holiday_calendar: str
    time_zone: str


@dataclass(frozen=True)
class JurisdictionRule:
    code: str
    name: str
    law: str
    regime: Regime
    signal_binding_from: date | None
    signal_covers: frozenset[str]
    allows_post_signal_consent: bool
    resolicit_wait_months: int | None
    optout_processing_business_days: int | None
    optout_processing_calendar_days: int | None
    dsar: DsarDeadlines
    sources: tuple[str, ...]
    notes: str

    def signal_binds(self, on: date) -> bool:
        """Whether an opt-out preference signal (GPC) is legally binding here on that date."""
        return self.signal_binding_from is not None and on >= self.signal_binding_from


@dataclass(frozen=True)
class RuleTable:
    version: str
    gpc_last_update: date
    rules: Mapping[str, JurisdictionRule] = field(repr=False)

    def __post_init__(self) -> None:
        if FALLBACK not in self.rules:
            raise ValueError(f"a rule table needs the global fallback rule '{FALLBACK}'")
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))

    def __iter__(self) -> Iterator[JurisdictionRule]:
        return iter(self.rules.values())

    def __len__(self) -> int:
        return len(self.rules)

    def rule_for(self, jurisdiction: str | None) -> JurisdictionRule:
        """The exact code ("US-CA"), else its country ("DE-BY" -> "DE"), else the global fallback "*"."""
        if not jurisdiction:
            return self.rules[FALLBACK]
        code = jurisdiction.strip().upper()
        return self.rules.get(code) or self.rules.get(country_of(code)) or self.rules[FALLBACK]

    def signal_binds(self, jurisdiction: str | None, on: date) -> bool:
        return self.rule_for(jurisdiction).signal_binds(on)


def is_eu_eea_uk(code: str | None) -> bool:
    """Whether a jurisdiction code (country or subdivision) lies in the EU, the EEA or the UK."""
    if not code:
        return False
    country = country_of(code.strip().upper())
    return country in EU_MEMBER_STATES or country in EEA_EFTA_STATES or country == "GB"


def parse_full_date(text: str) -> date:
    """Parse an RFC 3339 ``full-date`` (YYYY-MM-DD, nothing else). Raises ValueError."""
    if not isinstance(text, str) or not _FULL_DATE.match(text):
        raise ValueError(f"{text!r} is not an RFC 3339 full-date (YYYY-MM-DD)")
    return date.fromisoformat(text)


def is_rfc3339_date_or_date_time(text: object) -> bool:
    """Whether ``text`` is an RFC 3339 ``full-date`` or ``date-time`` (the GPC spec's ``lastUpdate``)."""
    if not isinstance(text, str):
        return False
    if _FULL_DATE.match(text):
        return _is_date(text)
    match = _DATE_TIME.match(text)
    if not match or not _is_date(match["date"]):
        return False
    offset_ok = match["offset_hour"] is None or (int(match["offset_hour"]) <= 23 and int(match["offset_minute"]) <= 59)
    # RFC 3339 §5.7 allows a leap second (60).
    return int(match["hour"]) <= 23 and int(match["minute"]) <= 59 and int(match["second"]) <= 60 and offset_ok


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


# --- validation ----------------------------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.problems: list[RuleProblem] = []

    def add(self, kind: ProblemKind, message: str) -> None:
        self.problems.append(RuleProblem(kind, message))


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _MAX_COUNT


def _check_period(out: _Collector, where: str, value: object, *, required: bool) -> None:
    if value is None:
        if required:
            out.add(ProblemKind.BAD_DSAR, f"{where} is required")
        return
    if not isinstance(value, dict) or len(value) != 1 or not set(value) <= _PERIOD_UNITS:
        out.add(ProblemKind.BAD_DSAR, f'{where} must be {{"months": n}} or {{"days": n}}, not {value!r}')
        return
    ((unit, count),) = value.items()
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count <= _MAX_PERIOD[unit]:
        out.add(ProblemKind.BAD_DSAR, f"{where} must be between 1 and {_MAX_PERIOD[unit]} {unit}, not {count!r}")


def _check_dsar(out: _Collector, code: str, dsar: object) -> None:
    if not isinstance(dsar, dict):
        out.add(ProblemKind.BAD_DSAR, f"{code}: dsar must be an object")
        return
    for key in sorted(_DSAR_KEYS - set(dsar)):
        out.add(ProblemKind.BAD_DSAR, f"{code}: dsar.{key} is missing")
    for key in sorted(set(dsar) - _DSAR_KEYS):
        out.add(ProblemKind.BAD_DSAR, f"{code}: dsar.{key} is not a known field")
    regime = dsar.get("regime")
    if not isinstance(regime, str) or not _DSAR_REGIME.match(regime):
        out.add(ProblemKind.UNKNOWN_REGIME, f"{code}: dsar.regime {regime!r} is not a lower-case regime key")
    deadline_keys = ("response", "extension", "extension_notice_within")
    count_keys = ("confirm_receipt_business_days", "appeal_response_days")
    if regime == NO_DSAR_REGIME:
        for key in (*deadline_keys, *count_keys):
            if dsar.get(key) is not None:
                out.add(ProblemKind.BAD_DSAR, f"{code}: dsar.{key} must be null when dsar.regime is 'none'")
    else:
        _check_period(out, f"{code}: dsar.response", dsar.get("response"), required=True)
        _check_period(out, f"{code}: dsar.extension", dsar.get("extension"), required=False)
        _check_period(
            out,
            f"{code}: dsar.extension_notice_within",
            dsar.get("extension_notice_within"),
            required=dsar.get("extension") is not None,
        )
        for key in count_keys:
            value = dsar.get(key)
            if value is not None and not _is_count(value):
                out.add(ProblemKind.BAD_DSAR, f"{code}: dsar.{key} must be null or a positive whole number of days")
    calendar = dsar.get("holiday_calendar")
    if not isinstance(calendar, str) or not _HOLIDAY_CALENDAR.match(calendar):
        out.add(ProblemKind.BAD_DSAR, f"{code}: dsar.holiday_calendar {calendar!r} is not a calendar id")
    zone = dsar.get("time_zone")
    if not _is_time_zone(zone):
        out.add(ProblemKind.BAD_DSAR, f"{code}: dsar.time_zone {zone!r} is not an IANA time zone")


def _is_time_zone(value: object) -> bool:
    if not isinstance(value, str) or not value or value.startswith("/"):
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_code(out: _Collector, index: int, code: object) -> str | None:
    if not isinstance(code, str):
        out.add(ProblemKind.BAD_FIELD, f"jurisdictions[{index}]: code is missing or not a string")
        return None
    if code != FALLBACK:
        try:
            normalized = normalize_jurisdiction(code)
        except ValueError:
            out.add(ProblemKind.BAD_FIELD, f"jurisdictions[{index}]: {code!r} is not an ISO 3166 code or '*'")
            return code
        if normalized != code:
            out.add(ProblemKind.BAD_FIELD, f"jurisdictions[{index}]: code {code!r} must be written {normalized!r}")
    return code


def _check_rule(out: _Collector, index: int, rule: object, seen: set[str]) -> None:
    if not isinstance(rule, dict):
        out.add(ProblemKind.STRUCTURE, f"jurisdictions[{index}] must be an object")
        return
    code = _check_code(out, index, rule.get("code"))
    if code is None:
        code = f"jurisdictions[{index}]"
    elif code in seen:
        out.add(ProblemKind.DUPLICATE_CODE, f"{code}: duplicate jurisdiction code")
    else:
        seen.add(code)

    for key in sorted(_RULE_KEYS - set(rule) - {"code", "sources"}):
        out.add(ProblemKind.BAD_FIELD, f"{code}: {key} is missing")
    for key in sorted(set(rule) - _RULE_KEYS):
        out.add(ProblemKind.BAD_FIELD, f"{code}: {key} is not a known field")
    for key in ("name", "law"):
        if key in rule and (not isinstance(rule[key], str) or not rule[key].strip()):
            out.add(ProblemKind.BAD_FIELD, f"{code}: {key} must be a non-empty string")
    if "notes" in rule and not isinstance(rule["notes"], str):
        out.add(ProblemKind.BAD_FIELD, f"{code}: notes must be a string")

    if "regime" in rule and rule["regime"] not in REGIMES:
        out.add(ProblemKind.UNKNOWN_REGIME, f"{code}: regime {rule['regime']!r} is not one of {sorted(REGIMES)}")

    binding = rule.get("signal_binding_from")
    if binding is not None:
        try:
            parse_full_date(binding)
        except ValueError:
            out.add(ProblemKind.BAD_DATE, f"{code}: signal_binding_from {binding!r} is not an ISO date (YYYY-MM-DD)")
    covers = rule.get("signal_covers", [])
    if not isinstance(covers, list) or not all(isinstance(item, str) for item in covers):
        out.add(ProblemKind.BAD_FIELD, f"{code}: signal_covers must be a list of strings")
        covers = []
    for item in covers:
        if item not in SIGNAL_CATEGORIES:
            out.add(
                ProblemKind.UNKNOWN_SIGNAL_CATEGORY,
                f"{code}: signal category {item!r} is not one of {sorted(SIGNAL_CATEGORIES)}",
            )
    if len(set(covers)) != len(covers):
        out.add(ProblemKind.BAD_FIELD, f"{code}: signal_covers lists a category twice")
    if binding is not None and not covers:
        out.add(ProblemKind.SIGNAL_WITHOUT_CATEGORIES, f"{code}: a signal binding date needs covered categories")
    if binding is None and covers:
        out.add(ProblemKind.SIGNAL_WITHOUT_CATEGORIES, f"{code}: covered signal categories need a binding date")

    if "allows_post_signal_consent" in rule and not isinstance(rule["allows_post_signal_consent"], bool):
        out.add(ProblemKind.BAD_FIELD, f"{code}: allows_post_signal_consent must be true or false")
    for key in ("resolicit_wait_months", "optout_processing_business_days", "optout_processing_calendar_days"):
        value = rule.get(key)
        if value is not None and not _is_count(value):
            out.add(ProblemKind.BAD_FIELD, f"{code}: {key} must be null or a positive whole number")

    if "dsar" in rule:
        _check_dsar(out, code, rule["dsar"])

    sources = rule.get("sources")
    if not isinstance(sources, list) or not sources:
        out.add(ProblemKind.MISSING_SOURCE, f"{code}: sources must be a non-empty list of citation URLs")
    else:
        for source in sources:
            if not isinstance(source, str) or not _URL.match(source):
                out.add(ProblemKind.MISSING_SOURCE, f"{code}: source {source!r} is not an http(s) URL")


def rule_table_problems(raw: object) -> list[RuleProblem]:
    """Every problem in a raw (parsed JSON) rule table, each with its kind; empty when the table is sound."""
    out = _Collector()
    if not isinstance(raw, dict):
        out.add(ProblemKind.STRUCTURE, "the rule table must be a JSON object")
        return out.problems
    for key in sorted(set(raw) - _TOP_LEVEL_KEYS):
        out.add(ProblemKind.STRUCTURE, f"{key} is not a known top-level field")
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        out.add(ProblemKind.STRUCTURE, "version must be a non-empty string")
    last_update = raw.get("gpc_last_update")
    try:
        parse_full_date(last_update)  # type: ignore[arg-type]  # anything else is reported
    except ValueError:
        out.add(ProblemKind.GPC_LAST_UPDATE, f"gpc_last_update {last_update!r} is not an RFC 3339 full-date")
    rules = raw.get("jurisdictions")
    if not isinstance(rules, list) or not rules:
        out.add(ProblemKind.STRUCTURE, "jurisdictions must be a non-empty list")
        return out.problems
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        _check_rule(out, index, rule, seen)
    for fallback in (FALLBACK, "US"):
        if fallback not in seen:
            out.add(ProblemKind.MISSING_FALLBACK, f"the fallback rule {fallback!r} is missing")
    return out.problems


def validate_rule_table(raw: object) -> list[str]:
    """Human-readable problems in a raw rule table (shared by the system check and the tests)."""
    return [problem.message for problem in rule_table_problems(raw)]


# --- loading -------------------------------------------------------------------------------------------------


def _period(value: Any) -> Period | None:
    return None if value is None else Period(**value)


def _date(value: Any) -> date | None:
    return None if value is None else parse_full_date(value)


def build_rule_table(raw: Mapping[str, Any]) -> RuleTable:
    """Validate a raw rule table and build it. Raises RuleTableError listing every problem."""
    problems = rule_table_problems(raw)
    if problems:
        raise RuleTableError(problems)
    rules: dict[str, JurisdictionRule] = {}
    for item in raw["jurisdictions"]:
        dsar = item["dsar"]
        rules[item["code"]] = JurisdictionRule(
            code=item["code"],
            name=item["name"],
            law=item["law"],
            regime=cast(Regime, item["regime"]),
            signal_binding_from=_date(item["signal_binding_from"]),
            signal_covers=frozenset(item["signal_covers"]),
            allows_post_signal_consent=item["allows_post_signal_consent"],
            resolicit_wait_months=item["resolicit_wait_months"],
            optout_processing_business_days=item["optout_processing_business_days"],
            optout_processing_calendar_days=item["optout_processing_calendar_days"],
            dsar=DsarDeadlines(
                regime=dsar["regime"],
                response=_period(dsar["response"]),
                extension=_period(dsar["extension"]),
                extension_notice_within=_period(dsar["extension_notice_within"]),
                confirm_receipt_business_days=dsar["confirm_receipt_business_days"],
                appeal_response_days=dsar["appeal_response_days"],
                holiday_calendar=dsar["holiday_calendar"],
                time_zone=dsar["time_zone"],
            ),
            sources=tuple(item["sources"]),
            notes=item["notes"],
        )
    return RuleTable(version=raw["version"], gpc_last_update=parse_full_date(raw["gpc_last_update"]), rules=rules)


RULES_FILE_ENV = "PROVENANT_JURISDICTION_RULES_FILE"


def load_rule_table_raw() -> dict[str, Any]:
    """The parsed data file, unvalidated: the packaged table, or the file named by the environment
    variable PROVENANT_JURISDICTION_RULES_FILE (a deployment's reviewed copy). Raises RuleTableError
    when it is missing or not JSON."""
    override = os.environ.get(RULES_FILE_ENV)
    try:
        if override:
            text = Path(override).read_text(encoding="utf-8")
        else:
            text = resources.files(DATA_PACKAGE).joinpath(DATA_PATH).read_text(encoding="utf-8")
        raw = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RuleTableError([RuleProblem(ProblemKind.UNREADABLE, f"{DATA_PATH} cannot be read: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise RuleTableError([RuleProblem(ProblemKind.STRUCTURE, "the rule table must be a JSON object")])
    return raw


@functools.cache
def jurisdiction_rules() -> RuleTable:
    """The packaged rule table, validated once per process."""
    return build_rule_table(load_rule_table_raw())


# --- documentation -------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _dsar_cell(dsar: DsarDeadlines) -> str:
    if dsar.response is None:
        return "none"
    extension = f"+{dsar.extension}" if dsar.extension else "no fixed extension"
    return f"{dsar.response} / {extension}"


def rules_markdown_table(table: RuleTable) -> str:
    """The README table ("How GPC is honored"): one row per jurisdiction, in data-file order."""
    lines = [
        "| Jurisdiction | Law | Regime | Signal binding from | Signal covers | Post-signal consent "
        "| DSAR response / extension |",
        "|---|---|---|---|---|---|---|",
    ]
    for rule in table:
        covers = ", ".join(sorted(category.replace("_", " ") for category in rule.signal_covers)) or "—"
        binding = rule.signal_binding_from.isoformat() if rule.signal_binding_from else "—"
        cells = [
            f"{rule.name} (`{rule.code}`)",
            rule.law,
            rule.regime.replace("_", "-"),
            binding,
            covers,
            "yes" if rule.allows_post_signal_consent else "no",
            _dsar_cell(rule.dsar),
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m core.jurisdiction_rules: print the README table
    print(rules_markdown_table(jurisdiction_rules()), end="")
