"""Jurisdiction rules as data (core/jurisdiction_rules.py and its JSON file) and their system checks."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from hypothesis import given
from hypothesis import strategies as st

from core import checks
from core.jurisdiction_rules import (
    FALLBACK,
    SIGNAL_CATEGORIES,
    Period,
    ProblemKind,
    RuleTable,
    RuleTableError,
    build_rule_table,
    is_eu_eea_uk,
    is_rfc3339_date_or_date_time,
    jurisdiction_rules,
    load_rule_table_raw,
    rule_table_problems,
    rules_markdown_table,
    validate_rule_table,
)

EU_MEMBER_STATES = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)
EEA_EFTA_STATES = ["IS", "LI", "NO"]
US_STATES_WITH_A_LAW = (
    "CA VA CO CT UT TX OR MT IA DE NH NJ TN MN MD IN KY RI NE".split()  # noqa: SIM905
)
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def table() -> RuleTable:
    return jurisdiction_rules()


@pytest.fixture
def raw() -> dict[str, Any]:
    """A private deep copy of the packaged table, free to break."""
    return copy.deepcopy(load_rule_table_raw())


def _entry(raw: dict[str, Any], code: str) -> dict[str, Any]:
    return next(item for item in raw["jurisdictions"] if item["code"] == code)


# --- the packaged table --------------------------------------------------------------------------------------


def test_the_packaged_table_has_no_problems() -> None:
    assert validate_rule_table(load_rule_table_raw()) == []


def test_table_carries_a_version_and_a_gpc_last_update_date(table: RuleTable) -> None:
    assert table.version
    assert isinstance(table.gpc_last_update, date)


def test_every_jurisdiction_cites_at_least_one_source_url(table: RuleTable) -> None:
    for rule in table:
        assert rule.sources, rule.code
        assert all(source.startswith(("https://", "http://")) for source in rule.sources), rule.code


@pytest.mark.parametrize("code", EU_MEMBER_STATES + EEA_EFTA_STATES)
def test_every_eu_and_eea_member_state_has_its_own_gdpr_rule(table: RuleTable, code: str) -> None:
    rule = table.rule_for(code)
    assert rule.code == code
    assert rule.regime == "opt_in"
    assert rule.dsar.regime == "gdpr"
    # GDPR Art. 12(3): one month, extendable by two, extension noticed within the first month.
    assert rule.dsar.response == Period(months=1)
    assert rule.dsar.extension == Period(months=2)
    assert rule.dsar.extension_notice_within == Period(months=1)
    assert rule.signal_binding_from is None


def test_table_has_27_eu_states_3_eea_states_the_uk_switzerland_us_states_and_both_fallbacks(table: RuleTable) -> None:
    codes = {rule.code for rule in table}
    expected = {*EU_MEMBER_STATES, *EEA_EFTA_STATES, "GB", "CH", "US", FALLBACK}
    expected |= {f"US-{state}" for state in US_STATES_WITH_A_LAW}
    assert len(EU_MEMBER_STATES) == 27
    assert expected <= codes


@pytest.mark.parametrize(
    ("code", "day_before", "first_day"),
    [
        ("US-CO", date(2024, 6, 30), date(2024, 7, 1)),
        ("US-CT", date(2024, 12, 31), date(2025, 1, 1)),
        ("US-TX", date(2024, 12, 31), date(2025, 1, 1)),
        ("US-MT", date(2024, 12, 31), date(2025, 1, 1)),
        ("US-NJ", date(2025, 7, 14), date(2025, 7, 15)),
        ("US-OR", date(2025, 12, 31), date(2026, 1, 1)),
    ],
)
def test_signal_becomes_binding_on_the_dated_start_of_each_state_obligation(
    table: RuleTable, code: str, day_before: date, first_day: date
) -> None:
    assert table.signal_binds(code, day_before) is False
    assert table.signal_binds(code, first_day) is True
    assert table.signal_binds(code, first_day + timedelta(days=365)) is True


@pytest.mark.parametrize("code", ["US-VA", "US-UT", "US-IA", "US-TN", "US-IN", "US-KY", "US-RI", "US-AL", "US"])
def test_signal_never_binds_in_states_without_a_universal_opt_out_duty(table: RuleTable, code: str) -> None:
    assert table.signal_binds(code, date(2030, 1, 1)) is False


@pytest.mark.parametrize("code", ["DE", "GB", "CH", "BR", None])
def test_signal_is_not_a_legal_duty_outside_the_us_states_that_require_it(table: RuleTable, code: str | None) -> None:
    assert table.signal_binds(code, date(2030, 1, 1)) is False


@pytest.mark.parametrize(
    ("jurisdiction", "resolved"),
    [
        ("US-CA", "US-CA"),
        (" us-ca ", "US-CA"),
        ("DE", "DE"),
        ("de", "DE"),
        ("DE-BY", "DE"),
        ("US-AL", "US"),
        ("US", "US"),
        ("GB-SCT", "GB"),
        ("BR", FALLBACK),
        ("BR-SP", FALLBACK),
        ("not a code", FALLBACK),
        ("", FALLBACK),
        (None, FALLBACK),
    ],
)
def test_rule_for_falls_back_from_subdivision_to_country_to_global(
    table: RuleTable, jurisdiction: str | None, resolved: str
) -> None:
    assert table.rule_for(jurisdiction).code == resolved


@pytest.mark.parametrize(
    ("code", "regime"),
    [("DE", "opt_in"), ("GB", "opt_in"), ("CH", "opt_in"), ("US-CA", "opt_out"), ("US", "opt_out"), ("*", "opt_in")],
)
def test_consent_regime_per_jurisdiction(table: RuleTable, code: str, regime: str) -> None:
    assert table.rule_for(code).regime == regime


def test_california_covers_sale_and_sharing_with_its_ccpa_deadlines(table: RuleTable) -> None:
    rule = table.rule_for("US-CA")
    assert rule.signal_covers == {"sale", "sharing"}
    assert rule.allows_post_signal_consent is True
    assert rule.resolicit_wait_months == 12  # Civ. Code §1798.135
    assert rule.optout_processing_business_days == 15  # §7026
    assert rule.dsar.regime == "ccpa"
    assert rule.dsar.response == Period(days=45)
    assert rule.dsar.extension == Period(days=45)
    assert rule.dsar.extension_notice_within == Period(days=45)
    assert rule.dsar.confirm_receipt_business_days == 10  # §7021(a)
    assert rule.dsar.holiday_calendar == "US-FED"
    assert rule.dsar.time_zone == "America/Los_Angeles"
    assert "[verify]" in rule.notes  # the binding date is not in REGULATORY.md


@pytest.mark.parametrize("code", ["US-CO", "US-CT", "US-TX", "US-MT", "US-NJ", "US-OR"])
def test_other_signal_states_cover_sale_and_targeted_advertising(table: RuleTable, code: str) -> None:
    assert table.rule_for(code).signal_covers == {"sale", "targeted_advertising"}


def test_only_california_and_colorado_allow_consent_after_the_signal(table: RuleTable) -> None:
    assert {rule.code for rule in table if rule.allows_post_signal_consent} == {"US-CA", "US-CO"}


def test_oregon_stops_processing_within_15_calendar_days(table: RuleTable) -> None:
    rule = table.rule_for("US-OR")
    assert rule.optout_processing_calendar_days == 15
    assert rule.optout_processing_business_days is None


def test_virginia_appeals_are_decided_within_60_days(table: RuleTable) -> None:
    assert table.rule_for("US-VA").dsar.appeal_response_days == 60


@pytest.mark.parametrize("code", ["US-CA", "US-DE", "US-MD", "US-NE", "US-NH", "US-MN", "CH", "IS"])
def test_values_not_settled_by_the_regulatory_brief_are_marked_verify(table: RuleTable, code: str) -> None:
    assert "[verify]" in table.rule_for(code).notes


def test_fallbacks_assume_no_signal_duty_and_no_statutory_dsar_deadline(table: RuleTable) -> None:
    for code in ("US", FALLBACK):
        rule = table.rule_for(code)
        assert rule.signal_binding_from is None
        assert rule.signal_covers == frozenset()
        assert rule.dsar.regime == "none"
        assert rule.dsar.response is None


def test_signal_categories_are_the_known_three(table: RuleTable) -> None:
    for rule in table:
        assert rule.signal_covers <= SIGNAL_CATEGORIES


@given(
    code=st.sampled_from(sorted(jurisdiction_rules().rules)),
    first=st.dates(min_value=date(2018, 1, 1), max_value=date(2040, 12, 31)),
    later_by=st.integers(min_value=0, max_value=5000),
)
def test_once_a_signal_binds_it_binds_on_every_later_date(code: str, first: date, later_by: int) -> None:
    table = jurisdiction_rules()
    if table.signal_binds(code, first):
        assert table.signal_binds(code, first + timedelta(days=later_by))


@given(st.one_of(st.none(), st.text(max_size=12)))
def test_rule_for_resolves_any_input_to_a_rule_of_the_table(jurisdiction: str | None) -> None:
    table = jurisdiction_rules()
    assert table.rule_for(jurisdiction) in set(table)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("DE", True), ("de-by", True), ("NO", True), ("GB", True), ("GB-SCT", True), ("CH", False), ("US-CA", False)],
)
def test_is_eu_eea_uk(code: str, expected: bool) -> None:
    assert is_eu_eea_uk(code) is expected


def test_is_eu_eea_uk_is_false_without_a_code() -> None:
    assert is_eu_eea_uk(None) is False
    assert is_eu_eea_uk("") is False


# --- validation of broken tables -----------------------------------------------------------------------------


def _drop_sources(raw: dict[str, Any]) -> None:
    del _entry(raw, "US-CO")["sources"]


def _empty_sources(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["sources"] = []


def _non_url_source(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["sources"] = ["GDPR Art. 12"]


def _bad_binding_date(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CO")["signal_binding_from"] = "2024-07-32"


def _non_iso_binding_date(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CO")["signal_binding_from"] = "07/01/2024"


def _unknown_regime(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["regime"] = "opt_maybe"


def _unknown_dsar_regime(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["dsar"]["regime"] = "GDPR 12(3)"


def _unknown_signal_category(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CA")["signal_covers"] = ["sale", "profiling"]


def _binding_date_without_categories(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CT")["signal_covers"] = []


def _categories_without_binding_date(raw: dict[str, Any]) -> None:
    _entry(raw, "US-VA")["signal_covers"] = ["sale"]


def _duplicate_code(raw: dict[str, Any]) -> None:
    raw["jurisdictions"].append(copy.deepcopy(_entry(raw, "DE")))


def _gpc_last_update_not_rfc3339(raw: dict[str, Any]) -> None:
    raw["gpc_last_update"] = "24/11/2026"


def _gpc_last_update_date_time(raw: dict[str, Any]) -> None:
    raw["gpc_last_update"] = "2026-11-24T00:00:00Z"  # the table holds a full-date


def _missing_global_fallback(raw: dict[str, Any]) -> None:
    raw["jurisdictions"] = [item for item in raw["jurisdictions"] if item["code"] != FALLBACK]


def _missing_us_fallback(raw: dict[str, Any]) -> None:
    raw["jurisdictions"] = [item for item in raw["jurisdictions"] if item["code"] != "US"]


def _lower_case_code(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CA")["code"] = "us-ca"


def _not_iso_code(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["code"] = "EU"


def _unknown_field(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["signal_binding_form"] = None


def _missing_field(raw: dict[str, Any]) -> None:
    del _entry(raw, "DE")["regime"]


def _post_signal_consent_not_bool(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CA")["allows_post_signal_consent"] = "yes"


def _bool_as_month_count(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CA")["resolicit_wait_months"] = True


def _response_in_weeks(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["dsar"]["response"] = {"weeks": 4}


def _missing_response(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CA")["dsar"]["response"] = None


def _extension_without_notice_window(raw: dict[str, Any]) -> None:
    _entry(raw, "US-CA")["dsar"]["extension_notice_within"] = None


def _deadline_under_no_regime(raw: dict[str, Any]) -> None:
    _entry(raw, "US")["dsar"]["response"] = {"days": 45}


def _bad_time_zone(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["dsar"]["time_zone"] = "Europe/Bonn"


def _bad_holiday_calendar(raw: dict[str, Any]) -> None:
    _entry(raw, "DE")["dsar"]["holiday_calendar"] = "german holidays"


def _missing_version(raw: dict[str, Any]) -> None:
    del raw["version"]


def _no_jurisdictions(raw: dict[str, Any]) -> None:
    raw["jurisdictions"] = []


@pytest.mark.parametrize(
    ("break_table", "kind", "fragment"),
    [
        (_drop_sources, ProblemKind.MISSING_SOURCE, "US-CO: sources"),
        (_empty_sources, ProblemKind.MISSING_SOURCE, "DE: sources"),
        (_non_url_source, ProblemKind.MISSING_SOURCE, "not an http(s) URL"),
        (_bad_binding_date, ProblemKind.BAD_DATE, "US-CO: signal_binding_from '2024-07-32'"),
        (_non_iso_binding_date, ProblemKind.BAD_DATE, "not an ISO date"),
        (_unknown_regime, ProblemKind.UNKNOWN_REGIME, "DE: regime 'opt_maybe'"),
        (_unknown_dsar_regime, ProblemKind.UNKNOWN_REGIME, "DE: dsar.regime"),
        (_unknown_signal_category, ProblemKind.UNKNOWN_SIGNAL_CATEGORY, "'profiling'"),
        (_binding_date_without_categories, ProblemKind.SIGNAL_WITHOUT_CATEGORIES, "US-CT: a signal binding date"),
        (_categories_without_binding_date, ProblemKind.SIGNAL_WITHOUT_CATEGORIES, "US-VA: covered signal"),
        (_duplicate_code, ProblemKind.DUPLICATE_CODE, "DE: duplicate"),
        (_gpc_last_update_not_rfc3339, ProblemKind.GPC_LAST_UPDATE, "RFC 3339"),
        (_gpc_last_update_date_time, ProblemKind.GPC_LAST_UPDATE, "full-date"),
        (_missing_global_fallback, ProblemKind.MISSING_FALLBACK, "'*'"),
        (_missing_us_fallback, ProblemKind.MISSING_FALLBACK, "'US'"),
        (_lower_case_code, ProblemKind.BAD_FIELD, "must be written 'US-CA'"),
        (_not_iso_code, ProblemKind.BAD_FIELD, "'EU' is not an ISO 3166 code"),
        (_unknown_field, ProblemKind.BAD_FIELD, "signal_binding_form is not a known field"),
        (_missing_field, ProblemKind.BAD_FIELD, "DE: regime is missing"),
        (_post_signal_consent_not_bool, ProblemKind.BAD_FIELD, "allows_post_signal_consent"),
        (_bool_as_month_count, ProblemKind.BAD_FIELD, "resolicit_wait_months"),
        (_response_in_weeks, ProblemKind.BAD_DSAR, "DE: dsar.response"),
        (_missing_response, ProblemKind.BAD_DSAR, "US-CA: dsar.response is required"),
        (_extension_without_notice_window, ProblemKind.BAD_DSAR, "extension_notice_within is required"),
        (_deadline_under_no_regime, ProblemKind.BAD_DSAR, "must be null when dsar.regime is 'none'"),
        (_bad_time_zone, ProblemKind.BAD_DSAR, "'Europe/Bonn' is not an IANA time zone"),
        (_bad_holiday_calendar, ProblemKind.BAD_DSAR, "holiday_calendar"),
        (_missing_version, ProblemKind.STRUCTURE, "version"),
        (_no_jurisdictions, ProblemKind.STRUCTURE, "jurisdictions must be a non-empty list"),
    ],
)
def test_validate_rule_table_finds_each_kind_of_broken_entry(
    raw: dict[str, Any], break_table: Callable[[dict[str, Any]], None], kind: ProblemKind, fragment: str
) -> None:
    break_table(raw)
    problems = rule_table_problems(raw)
    assert any(problem.kind == kind and fragment in problem.message for problem in problems), problems
    assert any(fragment in message for message in validate_rule_table(raw))
    with pytest.raises(RuleTableError):
        build_rule_table(raw)


@pytest.mark.parametrize("not_a_table", [None, [], "rules", 3])
def test_a_table_that_is_not_an_object_is_one_problem(not_a_table: object) -> None:
    assert validate_rule_table(not_a_table) == ["the rule table must be a JSON object"]


def test_a_rule_table_without_the_global_fallback_cannot_be_built(table: RuleTable) -> None:
    rules = {code: rule for code, rule in table.rules.items() if code != FALLBACK}
    with pytest.raises(ValueError, match="fallback"):
        RuleTable(version="x", gpc_last_update=date(2026, 1, 1), rules=rules)


def test_the_rule_mapping_is_read_only(table: RuleTable) -> None:
    with pytest.raises(TypeError):
        table.rules["XX"] = table.rule_for("DE")  # type: ignore[index]


@pytest.mark.parametrize(
    "value",
    [
        "2025-04-15",
        "1997-03-10",
        "2024-02-29",
        "2025-04-15T09:30:00Z",
        "2025-04-15t09:30:00z",
        "2025-04-15T09:30:00.123+02:00",
        "2025-04-15T09:30:00-05:00",
        "2016-12-31T23:59:60Z",
    ],
)
def test_rfc3339_full_dates_and_date_times_are_accepted(value: str) -> None:
    assert is_rfc3339_date_or_date_time(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2025-4-15",
        "20250415",
        "2025-02-29",
        "2025-13-01",
        "15/04/2025",
        "2025-04-15 09:30:00Z",
        "2025-04-15T09:30Z",
        "2025-04-15T09:30:00",
        "2025-04-15T24:00:00Z",
        "2025-04-15T09:60:00Z",
        "2025-04-15T09:30:00+0200",
        "2025-04-15T09:30:00+24:00",
        " 2025-04-15",
        None,
        20250415,
    ],
)
def test_anything_else_is_not_rfc3339(value: object) -> None:
    assert not is_rfc3339_date_or_date_time(value)


def test_period_is_months_or_days_and_reads_naturally() -> None:
    assert str(Period(months=1)) == "1 month"
    assert str(Period(months=2)) == "2 months"
    assert str(Period(days=45)) == "45 days"
    with pytest.raises(ValueError, match="not both"):
        Period(months=1, days=1)
    with pytest.raises(ValueError, match="not both"):
        Period()


# --- README table --------------------------------------------------------------------------------------------


def test_markdown_table_has_a_header_and_one_row_per_jurisdiction(table: RuleTable) -> None:
    lines = rules_markdown_table(table).splitlines()
    assert lines[0].startswith("| Jurisdiction | Law | Regime | Signal binding from | Signal covers |")
    assert lines[1] == "|---|---|---|---|---|---|---|"
    assert len(lines) == 2 + len(table)
    assert all(line.count(" | ") == 6 for line in lines[2:])
    assert (
        "| California (`US-CA`) | CCPA/CPRA | opt-out | 2020-08-14 | sale, sharing | yes | 45 days / +45 days |"
        in lines
    )
    assert "| Germany (`DE`) | GDPR | opt-in | — | — | no | 1 month / +2 months |" in lines
    assert "| Everywhere else (`*`) | none | opt-in | — | — | no | none |" in lines


def test_markdown_table_escapes_pipes(table: RuleTable) -> None:
    rules = dict(table.rules)
    rules["DE"] = dataclasses.replace(rules["DE"], law="GDPR | BDSG")
    rendered = rules_markdown_table(RuleTable(version="x", gpc_last_update=date(2026, 1, 1), rules=rules))
    assert "GDPR \\| BDSG" in rendered


def test_readme_shows_the_current_rules_table(table: RuleTable) -> None:
    readme = README.read_text(encoding="utf-8")
    assert "## How GPC is honored" in readme
    assert rules_markdown_table(table) in readme, "regenerate it: python -m core.jurisdiction_rules"


# --- system checks -------------------------------------------------------------------------------------------


def test_check_passes_on_the_packaged_table() -> None:
    assert checks.check_jurisdiction_rules() == []


def test_check_reports_a_jurisdiction_without_a_source_as_an_error(raw: dict[str, Any]) -> None:
    _drop_sources(raw)
    errors = checks.check_jurisdiction_rules(raw_table=raw)
    assert [error.id for error in errors] == ["provenant.E004"]
    assert "US-CO" in errors[0].msg
    assert errors[0].is_serious()


def test_check_reports_a_gpc_last_update_that_is_not_rfc3339(raw: dict[str, Any]) -> None:
    _gpc_last_update_not_rfc3339(raw)
    assert [error.id for error in checks.check_jurisdiction_rules(raw_table=raw)] == ["provenant.E003"]


def test_every_problem_kind_has_a_distinct_stable_check_id() -> None:
    assert set(checks.CHECK_IDS) == set(ProblemKind)
    ids = [*checks.CHECK_IDS.values(), checks.GPC_LAST_UPDATE_SETTING_ID]
    assert len(set(ids)) == len(ids)
    assert all(check_id.startswith("provenant.E") for check_id in ids)


def test_check_reports_an_unreadable_data_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "rules.json"
    broken.write_text("{not json")
    monkeypatch.setenv("PROVENANT_JURISDICTION_RULES_FILE", str(broken))
    assert [error.id for error in checks.check_jurisdiction_rules()] == ["provenant.E001"]


@pytest.mark.parametrize("value", [None, "", "2025-04-15", "2025-04-15T09:30:00Z"])
def test_gpc_last_update_setting_may_be_unset_or_rfc3339(settings: Any, value: str | None) -> None:
    settings.PROVENANT_GPC_LAST_UPDATE = value
    assert checks.check_gpc_last_update_setting() == []


@pytest.mark.parametrize("value", ["15 April 2025", "2025-04-15 09:30", "2025-02-30", 20250415])
def test_gpc_last_update_setting_that_is_not_rfc3339_is_an_error(settings: Any, value: object) -> None:
    settings.PROVENANT_GPC_LAST_UPDATE = value
    assert [error.id for error in checks.check_gpc_last_update_setting()] == ["provenant.E013"]


def test_manage_py_check_succeeds_on_the_real_table() -> None:
    call_command("check", "--fail-level", "ERROR", verbosity=0)


def test_manage_py_check_fails_on_a_jurisdiction_without_a_source(
    raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _drop_sources(raw)
    edited = tmp_path / "rules.json"
    edited.write_text(json.dumps(raw))
    monkeypatch.setenv("PROVENANT_JURISDICTION_RULES_FILE", str(edited))
    with pytest.raises(SystemCheckError, match=r"provenant\.E004"):
        call_command("check", verbosity=0)


def test_manage_py_check_fails_on_a_gpc_last_update_setting_that_is_not_rfc3339(settings: Any) -> None:
    settings.PROVENANT_GPC_LAST_UPDATE = "last Tuesday"
    with pytest.raises(SystemCheckError, match=r"provenant\.E013"):
        call_command("check", "--tag", "provenant", verbosity=0)
