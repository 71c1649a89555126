"""DSAR deadline engine (dsar/deadlines.py) and its holiday calendars: dated cases computed by hand.

Every expected date below was worked out from the calendar and the holiday lists (REGULATORY.md §0, §4) and is
written as a literal; none is computed by the code under test. Receipts are at noon UTC unless the case is about
time zones, so the receipt date is the same in every deadline time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from dsar.calendars import (
    WEEKENDS_ONLY,
    HolidayCalendar,
    UnknownCalendar,
    business_days_after,
    holidays_in_year,
    normalize_calendar_id,
    roll,
)
from dsar.deadlines import (
    ClockEvent,
    DeadlineError,
    DeadlinePolicy,
    DeadlineResult,
    ExtensionNotAvailable,
    ExtensionNotice,
    ExtensionNoticeLate,
    UnknownRegime,
    compute_deadlines,
    earliest_enforced,
)

D = date.fromisoformat
DE: dict[str, Any] = {"regime": "gdpr", "calendar": "EU-DE", "tz": "Europe/Berlin"}
IE: dict[str, Any] = {"regime": "gdpr", "calendar": "EU-IE", "tz": "Europe/Dublin"}
UK: dict[str, Any] = {"regime": "uk_gdpr"}
CA: dict[str, Any] = {"regime": "ccpa"}  # the rule table's defaults: US-FED, America/Los_Angeles
VA: dict[str, Any] = {"regime": "vcdpa"}
OR: dict[str, Any] = {"regime": "ocpa"}
ANCHORED = DeadlinePolicy(gdpr_extension_mode="anchored")
ROLLING = DeadlinePolicy(ccpa_roll_calendar_days=True)
CA_DAY_AFTER_THANKSGIVING = DeadlinePolicy(extra_holidays=frozenset({D("2025-11-28")}))
BAVARIA_CORPUS_CHRISTI = DeadlinePolicy(extra_holidays=frozenset({D("2025-06-19")}))


def noon(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def ev(kind: str, day: str) -> ClockEvent:
    return ClockEvent(kind, D(day))


def notice(day: str, reason: str = "complexity") -> ExtensionNotice:
    return ExtensionNotice(notice_sent_on=D(day), reason_code=reason)


@dataclass(frozen=True)
class Case:
    name: str
    where: dict[str, Any]
    received_at: datetime
    expected: dict[str, Any]
    request_type: str = "access"
    events: tuple[ClockEvent, ...] = ()
    extension: ExtensionNotice | None = None
    as_of: date | None = None
    policy: DeadlinePolicy = field(default_factory=DeadlinePolicy)


CASES: list[Case] = [
    # --- GDPR, Germany (EU-DE, Europe/Berlin): month ends, leap years, EDPB examples -------------------------------
    Case(
        "edpb_example_32_5_march_to_5_april",
        DE,
        noon("2024-03-05"),
        {"receipt_date": "2024-03-05", "initial_due_unrolled": "2024-04-05", "initial_due": "2024-04-05"},
    ),
    Case(
        "5_april_2025_is_a_saturday_so_monday",
        DE,
        noon("2025-03-05"),
        {"initial_due_unrolled": "2025-04-05", "initial_due": "2025-04-07"},
    ),
    Case(
        "edpb_example_33_31_august_to_30_september",
        DE,
        noon("2022-08-31"),
        {"initial_due_unrolled": "2022-09-30", "initial_due": "2022-09-30"},
    ),
    Case(
        "31_august_2023_30_september_is_a_saturday",
        DE,
        noon("2023-08-31"),
        {"initial_due_unrolled": "2023-09-30", "initial_due": "2023-10-02"},
    ),
    Case(
        "31_january_to_28_february",
        DE,
        noon("2025-01-31"),
        {"initial_due_unrolled": "2025-02-28", "initial_due": "2025-02-28", "extension_notice_due": "2025-02-28"},
    ),
    Case(
        "31_january_leap_year_to_29_february",
        DE,
        noon("2024-01-31"),
        {"initial_due_unrolled": "2024-02-29", "initial_due": "2024-02-29"},
    ),
    Case(
        "30_january_non_leap_year_to_28_february",
        DE,
        noon("2023-01-30"),
        {"initial_due_unrolled": "2023-02-28", "initial_due": "2023-02-28"},
    ),
    Case(
        "29_february_to_good_friday_then_easter_monday",
        DE,
        noon("2024-02-29"),
        {"initial_due_unrolled": "2024-03-29", "initial_due": "2024-04-02"},
    ),
    Case(
        "good_friday_2025_weekend_and_easter_monday_in_germany",
        DE,
        noon("2025-03-18"),
        {"initial_due_unrolled": "2025-04-18", "initial_due": "2025-04-22"},
    ),
    Case(
        "german_unity_day_on_a_friday",
        DE,
        noon("2025-09-03"),
        {"initial_due_unrolled": "2025-10-03", "initial_due": "2025-10-06"},
    ),
    Case(
        "german_unity_day_on_a_thursday",
        DE,
        noon("2024-09-03"),
        {"initial_due_unrolled": "2024-10-03", "initial_due": "2024-10-04"},
    ),
    Case(
        "christmas_and_second_day_of_christmas_then_weekend",
        DE,
        noon("2025-11-25"),
        {"initial_due_unrolled": "2025-12-25", "initial_due": "2025-12-29"},
    ),
    Case(
        "new_years_day_across_the_year_end",
        DE,
        noon("2025-12-01"),
        {"initial_due_unrolled": "2026-01-01", "initial_due": "2026-01-02"},
    ),
    Case(
        "ascension_day",
        DE,
        noon("2025-04-29"),
        {"initial_due_unrolled": "2025-05-29", "initial_due": "2025-05-30"},
    ),
    Case(
        "whit_monday",
        DE,
        noon("2025-05-09"),
        {"initial_due_unrolled": "2025-06-09", "initial_due": "2025-06-10"},
    ),
    Case(
        "corpus_christi_is_not_a_nationwide_holiday",
        DE,
        noon("2025-05-19"),
        {"initial_due": "2025-06-19"},
    ),
    Case(
        "corpus_christi_in_bavaria_by_subdivision_calendar",
        {"regime": "gdpr", "calendar": "DE-BY", "tz": "Europe/Berlin"},
        noon("2025-05-19"),
        {"initial_due": "2025-06-20"},
    ),
    Case(
        "corpus_christi_as_an_organisation_extra_holiday",
        DE,
        noon("2025-05-19"),
        {"initial_due": "2025-06-20"},
        policy=BAVARIA_CORPUS_CHRISTI,
    ),
    # --- GDPR, Ireland (EU-IE, Europe/Dublin) ---------------------------------------------------------------------
    Case(
        "st_patricks_day_on_a_monday",
        IE,
        noon("2025-02-17"),
        {"initial_due_unrolled": "2025-03-17", "initial_due": "2025-03-18"},
    ),
    Case(
        "st_patricks_day_2024_on_a_sunday_no_substitute_day",
        IE,
        noon("2024-02-17"),
        {"initial_due_unrolled": "2024-03-17", "initial_due": "2024-03-18"},
    ),
    Case(
        "st_patricks_day_and_the_2022_day_of_remembrance",
        IE,
        noon("2022-02-17"),
        {"initial_due_unrolled": "2022-03-17", "initial_due": "2022-03-21"},
    ),
    Case(
        "good_friday_is_not_an_irish_public_holiday",
        IE,
        noon("2025-03-18"),
        {"initial_due_unrolled": "2025-04-18", "initial_due": "2025-04-18"},
    ),
    Case(
        "easter_monday_in_ireland",
        IE,
        noon("2025-03-21"),
        {"initial_due_unrolled": "2025-04-21", "initial_due": "2025-04-22"},
    ),
    Case(
        "christmas_and_st_stephens_day",
        IE,
        noon("2024-11-25"),
        {"initial_due_unrolled": "2024-12-25", "initial_due": "2024-12-27"},
    ),
    Case(
        "st_brigids_day",
        IE,
        noon("2025-01-03"),
        {"initial_due_unrolled": "2025-02-03", "initial_due": "2025-02-04"},
    ),
    # --- UK GDPR (rule table: calendar GB, Europe/London) -------------------------------------------------------
    Case(
        "uk_good_friday_rolls_to_monday_uk_wide_calendar_has_no_easter_monday",
        UK,
        noon("2025-03-18"),
        {"initial_due": "2025-04-21"},
    ),
    Case(
        "uk_england_calendar_has_easter_monday",
        {"regime": "uk_gdpr", "calendar": "GB-ENG"},
        noon("2025-03-18"),
        {"initial_due": "2025-04-22"},
    ),
    # --- time zones around midnight (A8) ----------------------------------------------------------------------------
    Case(
        "23_30_utc_is_the_next_day_in_berlin_then_labour_day",
        DE,
        datetime(2025, 3, 31, 23, 30, tzinfo=UTC),
        {"receipt_date": "2025-04-01", "initial_due_unrolled": "2025-05-01", "initial_due": "2025-05-02"},
    ),
    Case(
        "23_30_utc_in_winter_is_31_january_in_berlin",
        DE,
        datetime(2025, 1, 30, 23, 30, tzinfo=UTC),
        {"receipt_date": "2025-01-31", "initial_due": "2025-02-28"},
    ),
    Case(
        "06_00_utc_is_the_previous_day_in_los_angeles",
        CA,
        datetime(2025, 3, 1, 6, 0, tzinfo=UTC),
        {"receipt_date": "2025-02-28", "response_due": "2025-04-14", "response_sla_due": "2025-04-13"},
    ),
    # --- GDPR extensions: chain vs anchored (A2) -----------------------------------------------------------------
    Case(
        "extension_chain_31_january_to_28_april",
        DE,
        noon("2025-01-31"),
        {"extended_due": "2025-04-28", "alt_extended_due": "2025-04-30", "enforced_due": "2025-04-28"},
        extension=notice("2025-02-20"),
    ),
    Case(
        "extension_anchored_31_january_to_30_april",
        DE,
        noon("2025-01-31"),
        {"extended_due": "2025-04-30", "alt_extended_due": "2025-04-28", "enforced_due": "2025-04-30"},
        extension=notice("2025-02-20"),
        policy=ANCHORED,
    ),
    Case(
        "extension_chain_in_a_leap_year",
        DE,
        noon("2024-01-31"),
        {"initial_due": "2024-02-29", "extended_due": "2024-04-29", "alt_extended_due": "2024-04-30"},
        extension=notice("2024-02-29", "volume"),
    ),
    Case(
        "extension_chains_from_the_unrolled_first_month",
        DE,
        noon("2025-05-28"),
        {"initial_due": "2025-06-30", "extended_due": "2025-08-28", "alt_extended_due": "2025-08-28"},
        extension=notice("2025-06-30"),
    ),
    Case(
        "extension_onto_german_unity_day",
        DE,
        noon("2025-07-03"),
        {"initial_due": "2025-08-04", "extended_due": "2025-10-06", "alt_extended_due": "2025-10-06"},
        extension=notice("2025-07-10", "redaction"),
    ),
    Case(
        "extension_notice_on_the_weekend_inside_a_rolled_month",
        DE,
        noon("2025-03-05"),
        {"extension_notice_due": "2025-04-07", "extended_due": "2025-06-05"},
        extension=notice("2025-04-06"),
    ),
    # --- GDPR identity pauses (A3, A4) -------------------------------------------------------------------------------
    Case(
        "pause_applied_when_the_id_request_went_out_promptly",
        DE,
        noon("2024-03-05"),
        {
            "paused_days": 10,
            "pause_applied": True,
            "initial_due_unrolled": "2024-04-15",
            "initial_due": "2024-04-15",
            "alt_due_inclusive_pause": "2024-04-16",
            "alt_due_restart": "2024-04-17",
        },
        events=(ev("id_requested", "2024-03-07"), ev("id_received", "2024-03-17")),
    ),
    Case(
        "pause_applied_on_the_last_grace_day",
        DE,
        noon("2024-03-05"),
        {"paused_days": 10, "pause_applied": True, "initial_due": "2024-04-15"},
        events=(ev("id_requested", "2024-03-10"), ev("id_received", "2024-03-20")),
    ),
    Case(
        "pause_not_applied_when_the_id_request_was_late",
        DE,
        noon("2024-03-05"),
        {"paused_days": 0, "pause_applied": False, "initial_due": "2024-04-05"},
        events=(ev("id_requested", "2024-03-11"), ev("id_received", "2024-03-21")),
    ),
    Case(
        "pause_then_extension_month_arithmetic_first",
        DE,
        noon("2025-01-31"),
        {
            "paused_days": 7,
            "initial_due": "2025-03-07",
            "extension_notice_due": "2025-03-07",
            "extended_due": "2025-05-05",
            "alt_extended_due": "2025-05-07",
        },
        events=(ev("id_requested", "2025-02-03"), ev("id_received", "2025-02-10")),
        extension=notice("2025-03-05"),
    ),
    Case(
        "open_pause_counts_up_to_as_of",
        DE,
        noon("2024-03-05"),
        {
            "paused_days": 14,
            "initial_due": "2024-04-19",
            "identity_reminder_due": "2024-03-20",
            "identity_cutoff": "2024-04-06",
            "status": "open",
        },
        events=(ev("id_requested", "2024-03-06"),),
        as_of=D("2024-03-20"),
    ),
    Case(
        "ccpa_never_pauses_for_verification",
        CA,
        noon("2025-01-31"),
        {"paused_days": 0, "pause_applied": False, "response_due": "2025-03-17"},
        request_type="deletion",
        events=(ev("id_requested", "2025-02-01"), ev("id_received", "2025-02-20")),
    ),
    # --- status on as_of -------------------------------------------------------------------------------------------
    Case("gdpr_open_on_the_due_date", DE, noon("2024-03-05"), {"status": "open"}, as_of=D("2024-04-05")),
    Case("gdpr_overdue_the_day_after", DE, noon("2024-03-05"), {"status": "overdue"}, as_of=D("2024-04-06")),
    Case(
        "gdpr_met_on_the_due_date",
        DE,
        noon("2024-03-05"),
        {"status": "met"},
        events=(ev("response_sent", "2024-04-05"),),
        as_of=D("2024-04-10"),
    ),
    Case(
        "gdpr_answered_late",
        DE,
        noon("2024-03-05"),
        {"status": "answered_late"},
        events=(ev("response_sent", "2024-04-08"),),
        as_of=D("2024-04-10"),
    ),
    Case(
        "gdpr_response_after_as_of_is_not_yet_known",
        DE,
        noon("2024-03-05"),
        {"status": "overdue"},
        events=(ev("response_sent", "2024-04-08"),),
        as_of=D("2024-04-07"),
    ),
    Case(
        "gdpr_subject_may_answer_on_the_cutoff_day",
        DE,
        noon("2024-03-05"),
        {"status": "open", "identity_cutoff": "2024-04-06", "paused_days": 31},
        events=(ev("id_requested", "2024-03-06"),),
        as_of=D("2024-04-06"),
    ),
    Case(
        "gdpr_closed_unable_to_identify_after_the_cutoff",
        DE,
        noon("2024-03-05"),
        {"status": "closed_unable_to_identify", "paused_days": 31, "initial_due": "2024-05-06"},
        events=(ev("id_requested", "2024-03-06"),),
        as_of=D("2024-04-07"),
    ),
    Case(
        "ccpa_open_the_day_before_day_45_while_unverified",
        CA,
        noon("2025-01-31"),
        {"status": "open"},
        request_type="deletion",
        events=(ev("id_requested", "2025-02-03"),),
        as_of=D("2025-03-16"),
    ),
    Case(
        "ccpa_deniable_unverified_at_day_45",
        CA,
        noon("2025-01-31"),
        {"status": "deniable_unverified", "response_due": "2025-03-17"},
        request_type="deletion",
        events=(ev("id_requested", "2025-02-03"),),
        as_of=D("2025-03-17"),
    ),
    Case(
        "ccpa_verified_and_unanswered_is_overdue",
        CA,
        noon("2025-01-31"),
        {"status": "overdue"},
        request_type="access",
        events=(ev("id_requested", "2025-02-03"), ev("id_received", "2025-03-01")),
        as_of=D("2025-03-18"),
    ),
    Case(
        "ccpa_met_on_day_45",
        CA,
        noon("2025-01-31"),
        {"status": "met"},
        events=(ev("response_sent", "2025-03-17"),),
        as_of=D("2025-03-20"),
    ),
    Case(
        "ccpa_extended_request_is_open_until_day_90",
        CA,
        noon("2025-01-31"),
        {"status": "open", "extended_due": "2025-05-01", "enforced_due": "2025-05-01"},
        extension=notice("2025-03-17"),
        as_of=D("2025-04-30"),
    ),
    # --- CCPA: 45 / 90 calendar days, not rolled (A5, A6), 10 and 15 business days (A7) -----------------------
    Case(
        "ccpa_45_and_90_days_and_10_business_days",
        CA,
        noon("2025-01-31"),
        {
            "response_due": "2025-03-17",
            "response_sla_due": "2025-03-16",
            "extension_notice_due": "2025-03-17",
            "max_extended_due": "2025-05-01",
            "confirm_legal_due": "2025-02-14",
            "confirm_sla_due": "2025-02-14",
            "optout_legal_due": None,
            "extended_due": None,
        },
        request_type="deletion",
    ),
    Case(
        "ccpa_day_45_on_a_saturday_is_not_rolled",
        CA,
        noon("2025-01-29"),
        {"response_due": "2025-03-15", "response_sla_due": "2025-03-14", "max_extended_due": "2025-04-29"},
    ),
    Case(
        "ccpa_day_45_on_a_saturday_rolled_when_switched_on",
        CA,
        noon("2025-01-29"),
        {"response_due": "2025-03-17", "response_sla_due": "2025-03-14"},
        policy=ROLLING,
    ),
    Case(
        "ccpa_day_45_on_memorial_day_not_rolled",
        CA,
        noon("2025-04-11"),
        {"response_due": "2025-05-26"},
    ),
    Case(
        "ccpa_day_45_on_memorial_day_rolled_when_switched_on",
        CA,
        noon("2025-04-11"),
        {"response_due": "2025-05-27"},
        policy=ROLLING,
    ),
    Case(
        "ccpa_45_days_to_29_february",
        CA,
        noon("2024-01-15"),
        {"response_due": "2024-02-29"},
    ),
    Case(
        "ccpa_opt_out_15_business_days_skip_presidents_day",
        CA,
        noon("2025-01-31"),
        {
            "optout_legal_due": "2025-02-24",
            "optout_sla_due": "2025-02-21",
            "response_due": None,
            "confirm_legal_due": None,
            "enforced_due": "2025-02-24",
        },
        request_type="opt_out_of_sale",
    ),
    Case(
        "ccpa_limit_sensitive_uses_the_opt_out_period",
        CA,
        noon("2025-01-31"),
        {"optout_legal_due": "2025-02-24", "optout_sla_due": "2025-02-21"},
        request_type="limit_sensitive",
    ),
    Case(
        "july_4_on_a_saturday_observed_friday",
        CA,
        noon("2026-06-22"),
        {
            "confirm_legal_due": "2026-07-07",
            "confirm_sla_due": "2026-07-06",
        },
        request_type="correction",
    ),
    Case(
        "july_4_observed_friday_in_the_opt_out_count",
        CA,
        noon("2026-06-22"),
        {"optout_legal_due": "2026-07-14", "optout_sla_due": "2026-07-13"},
        request_type="opt_out_of_sale",
    ),
    Case(
        "juneteenth",
        CA,
        noon("2025-06-12"),
        {"confirm_legal_due": "2025-06-27", "confirm_sla_due": "2025-06-26"},
    ),
    Case(
        "thanksgiving_day_after_is_not_federal",
        CA,
        noon("2025-11-20"),
        {"confirm_legal_due": "2025-12-05", "confirm_sla_due": "2025-12-04"},
    ),
    Case(
        "thanksgiving_with_californias_day_after_as_extra_holiday",
        CA,
        noon("2025-11-20"),
        {"confirm_legal_due": "2025-12-08", "confirm_sla_due": "2025-12-04"},
        policy=CA_DAY_AFTER_THANKSGIVING,
    ),
    Case(
        "christmas_and_new_year_on_sundays_observed_mondays",
        CA,
        noon("2022-12-20"),
        {"confirm_legal_due": "2023-01-05", "confirm_sla_due": "2023-01-03"},
    ),
    Case(
        "new_years_day_on_a_saturday_observed_31_december",
        CA,
        noon("2021-12-27"),
        {"confirm_legal_due": "2022-01-11", "confirm_sla_due": "2022-01-10"},
    ),
    Case(
        "veterans_day_on_a_saturday_observed_friday",
        CA,
        noon("2023-11-03"),
        {"confirm_legal_due": "2023-11-20", "confirm_sla_due": "2023-11-17"},
    ),
    # --- US state laws from the rule table: 45 + 45 with notice inside the first 45 -----------------------------
    Case(
        "virginia_45_plus_45_with_notice",
        VA,
        noon("2025-01-31"),
        {
            "response_due": "2025-03-17",
            "extension_notice_due": "2025-03-17",
            "extended_due": "2025-05-01",
            "max_extended_due": "2025-05-01",
            "confirm_legal_due": None,
            "time_zone": "America/New_York",
        },
        extension=notice("2025-03-10"),
    ),
    Case(
        "oregon_opt_out_15_calendar_days_not_rolled",
        OR,
        noon("2025-01-31"),
        {"optout_legal_due": "2025-02-15", "optout_sla_due": "2025-02-14", "response_due": None},
        request_type="opt_out_of_sale",
    ),
    Case(
        "virginia_opt_out_uses_the_45_day_period",
        VA,
        noon("2025-01-31"),
        {"response_due": "2025-03-17", "optout_legal_due": None, "enforced_due": "2025-03-17"},
        request_type="opt_out_of_sale",
    ),
]


def _run(case: Case) -> DeadlineResult:
    return compute_deadlines(
        request_type=case.request_type,
        received_at=case.received_at,
        tz=case.where.get("tz"),
        calendar=case.where.get("calendar"),
        regime=case.where["regime"],
        events=list(case.events),
        extension=case.extension,
        as_of=case.as_of,
        policy=case.policy,
    )


def _actual(result: DeadlineResult, key: str) -> Any:
    value = result.enforced_due if key == "enforced_due" else getattr(result, key)
    return value.isoformat() if isinstance(value, date) else value


def test_there_are_at_least_forty_dated_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_dated_case(case: Case) -> None:
    result = _run(case)

    for key, expected in case.expected.items():
        assert _actual(result, key) == expected, key
    for key in result.to_dict():
        if key.endswith("_due") or key == "receipt_date":
            value = getattr(result, key)
            assert value is None or key in result.rules, f"{key} has no rule"


# --- rules and warnings --------------------------------------------------------------------------------------------


def test_every_date_carries_the_rule_it_came_from() -> None:
    result = compute_deadlines(
        regime="gdpr",
        request_type="access",
        received_at=noon("2025-01-31"),
        tz="Europe/Berlin",
        calendar="EU-DE",
        events=[],
        extension=notice("2025-02-10"),
        as_of=D("2025-02-11"),
        policy=DeadlinePolicy(),
    )

    assert result.rules["initial_due"].startswith("GDPR Art. 12(3); Reg. 1182/71 Art. 3(2)(c), 3(4)")
    assert "EU-DE" in result.rules["initial_due"]
    assert "chained: 2 further months from the end of the first" in result.rules["extended_due"]
    assert "anchored: 3 months from receipt" in result.rules["alt_extended_due"]
    assert "complexity" in result.rules["extended_due"]
    assert result.rules["status"]


def test_ccpa_rules_cite_the_regulations() -> None:
    result = compute_deadlines(regime="ccpa", request_type="deletion", received_at=noon("2025-01-31"))

    assert result.rules["response_due"].startswith("Cal. Code Regs. tit. 11 §7021(b)")
    assert "not rolled past a weekend or holiday" in result.rules["response_due"]
    assert result.rules["confirm_legal_due"].startswith("Cal. Code Regs. tit. 11 §7021(a)")
    assert "Civ. Code §1798.130(a)(2)(A)" in result.rules["max_extended_due"]
    assert "§7021(b)" in result.rules["paused_days"]


def test_receipt_near_midnight_warns_that_the_local_date_differs_from_utc() -> None:
    result = compute_deadlines(
        regime="gdpr",
        request_type="access",
        received_at=datetime(2025, 3, 31, 23, 30, tzinfo=UTC),
        tz="Europe/Berlin",
        calendar="EU-DE",
    )

    assert any("not the UTC date 2025-03-31" in warning for warning in result.warnings)


def test_a_late_identity_request_is_reported_as_a_warning() -> None:
    result = compute_deadlines(
        request_type="access",
        received_at=noon("2024-03-05"),
        events=[ev("id_requested", "2024-03-11"), ev("id_received", "2024-03-21")],
        **DE,
    )

    assert any(
        "6 days after receipt" in warning and "EDPB Guidelines 01/2022 §159" in warning for warning in result.warnings
    )


def test_gdpr_only_rights_under_a_us_law_get_its_general_period_with_a_warning() -> None:
    result = compute_deadlines(regime="ccpa", request_type="object", received_at=noon("2025-01-31"))

    assert result.enforced_due == D("2025-03-17")
    assert result.warnings


# --- extensions ------------------------------------------------------------------------------------------------------


def test_gdpr_extension_notice_after_the_first_month_is_late() -> None:
    with pytest.raises(ExtensionNoticeLate) as raised:
        compute_deadlines(request_type="access", received_at=noon("2024-03-05"), extension=notice("2024-04-06"), **DE)

    assert raised.value.due == D("2024-04-05")
    assert raised.value.code == "EXTENSION_NOTICE_LATE"


def test_gdpr_extension_notice_late_after_a_rolled_month() -> None:
    with pytest.raises(ExtensionNoticeLate) as raised:
        compute_deadlines(request_type="access", received_at=noon("2025-03-05"), extension=notice("2025-04-08"), **DE)

    assert raised.value.due == D("2025-04-07")


def test_ccpa_extension_notice_after_day_45_is_late() -> None:
    with pytest.raises(ExtensionNoticeLate) as raised:
        compute_deadlines(
            regime="ccpa", request_type="access", received_at=noon("2025-01-31"), extension=notice("2025-03-18")
        )

    assert raised.value.due == D("2025-03-17")


def test_ccpa_opt_outs_have_no_extension() -> None:
    with pytest.raises(ExtensionNotAvailable):
        compute_deadlines(
            regime="ccpa",
            request_type="opt_out_of_sale",
            received_at=noon("2025-01-31"),
            extension=notice("2025-02-03"),
        )


def test_extension_reason_code_must_be_known() -> None:
    with pytest.raises(DeadlineError):
        ExtensionNotice(notice_sent_on=D("2025-02-03"), reason_code="because")


# --- several regimes ----------------------------------------------------------------------------------------------


def test_a_request_under_several_regimes_enforces_the_earliest_deadline() -> None:
    gdpr = compute_deadlines(request_type="access", received_at=noon("2025-01-31"), **IE)
    ccpa = compute_deadlines(regime="ccpa", request_type="access", received_at=noon("2025-01-31"))
    virginia = compute_deadlines(regime="vcdpa", request_type="access", received_at=noon("2025-01-31"))

    due, rule = earliest_enforced([ccpa, gdpr, virginia])

    assert due == D("2025-02-28")
    assert rule.startswith("gdpr.initial_due: GDPR Art. 12(3)")


def test_earliest_of_equal_dates_is_the_first_given() -> None:
    ccpa = compute_deadlines(regime="ccpa", request_type="access", received_at=noon("2025-01-31"))
    virginia = compute_deadlines(regime="vcdpa", request_type="access", received_at=noon("2025-01-31"))

    assert earliest_enforced([virginia, ccpa]) == (D("2025-03-17"), f"vcdpa.response_due: {virginia.enforced_rule}")


def test_earliest_of_nothing_is_an_error() -> None:
    with pytest.raises(DeadlineError):
        earliest_enforced([])


# --- configuration and input errors ----------------------------------------------------------------------------


def test_gdpr_takes_calendar_and_time_zone_from_the_policy() -> None:
    policy = DeadlinePolicy(gdpr_calendar="EU-IE", gdpr_time_zone="Europe/Dublin")

    result = compute_deadlines(regime="gdpr", request_type="access", received_at=noon("2025-02-17"), policy=policy)

    assert (result.calendar, result.time_zone, result.initial_due) == ("EU-IE", "Europe/Dublin", D("2025-03-18"))


def test_gdpr_without_a_member_state_calendar_is_refused() -> None:
    with pytest.raises(DeadlineError, match=r"Reg\. 1182/71 Art\. 2\(1\)"):
        compute_deadlines(regime="gdpr", request_type="access", received_at=noon("2025-02-17"))


def test_us_time_zone_from_the_policy() -> None:
    policy = DeadlinePolicy(us_time_zone="America/New_York")

    result = compute_deadlines(
        regime="ccpa", request_type="access", received_at=datetime(2025, 3, 1, 6, tzinfo=UTC), policy=policy
    )

    assert result.receipt_date == D("2025-03-01")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"regime": "none"},
        {"regime": "martian"},
        {"request_type": "teleport"},
        {"received_at": datetime(2025, 1, 31, 12)},  # naive
        {"tz": "Mars/Olympus_Mons"},
        {"calendar": "XX-NOPE"},
        {"events": [ClockEvent("id_requested", D("2025-01-30"))]},  # before receipt
        {"extension": notice("2025-01-30")},  # before receipt
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "regime": "gdpr",
        "request_type": "access",
        "received_at": noon("2025-01-31"),
        "tz": "Europe/Berlin",
        "calendar": "EU-DE",
    }
    arguments.update(kwargs)

    with pytest.raises(DeadlineError):
        compute_deadlines(**arguments)


def test_unknown_regime_is_its_own_error() -> None:
    with pytest.raises(UnknownRegime):
        compute_deadlines(regime="none", request_type="access", received_at=noon("2025-01-31"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gdpr_extension_mode": "sideways"},
        {"gdpr_id_request_grace_days": -1},
        {"ccpa_internal_sla_offset": 1},
        {"gdpr_calendar": "EU-US"},
        {"gdpr_time_zone": "Nowhere/Land"},
        {"extra_holidays": frozenset({"2025-01-01"})},
    ],
)
def test_bad_policy_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(DeadlineError):
        DeadlinePolicy(**kwargs)


def test_bad_event_type_is_refused() -> None:
    with pytest.raises(DeadlineError):
        ClockEvent("coffee_break", D("2025-02-01"))


def test_aware_datetimes_for_events_are_read_in_the_deadline_time_zone() -> None:
    # 23:30 UTC on 6 March is 7 March in Berlin: 10 paused days instead of 11.
    events = [
        ClockEvent("id_requested", datetime(2024, 3, 6, 23, 30, tzinfo=UTC)),
        ClockEvent("id_received", D("2024-03-17")),
    ]

    result = compute_deadlines(request_type="access", received_at=noon("2024-03-05"), events=events, **DE)

    assert result.paused_days == 10


# --- JSON ----------------------------------------------------------------------------------------------------------


def test_to_dict_gives_iso_dates_and_every_output_key() -> None:
    result = compute_deadlines(
        regime="ccpa", request_type="deletion", received_at=noon("2025-01-31"), as_of=D("2025-02-01")
    )

    body = result.to_dict()

    assert body["receipt_date"] == "2025-01-31"
    assert body["response_due"] == "2025-03-17"
    assert body["initial_due"] is None
    assert body["enforced_due"] == "2025-03-17"
    assert body["status"] == "open"
    issue_keys = {
        *("receipt_date", "initial_due_unrolled", "initial_due", "extension_notice_due", "extended_due"),
        *("alt_extended_due", "paused_days", "pause_applied", "warnings", "response_due", "response_sla_due"),
        *("max_extended_due", "confirm_legal_due", "confirm_sla_due", "optout_legal_due", "optout_sla_due"),
        *("status", "rules"),
    }
    assert issue_keys <= set(body)
    assert isinstance(body["rules"], dict)


def test_status_is_none_without_as_of_or_response() -> None:
    result = compute_deadlines(regime="ccpa", request_type="deletion", received_at=noon("2025-01-31"))

    assert result.status is None
    assert "status" not in result.rules


# --- calendars ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calendar_id", "year", "expected"),
    [
        ("US-FED", 2026, {"2026-07-03", "2026-06-19", "2026-11-26", "2026-12-25", "2026-01-19"}),
        ("US-FED", 2021, {"2021-12-31", "2021-12-24", "2021-06-18", "2021-07-05"}),
        ("EU-DE", 2025, {"2025-04-18", "2025-04-21", "2025-10-03", "2025-12-25", "2025-12-26", "2025-06-09"}),
        ("EU-IE", 2025, {"2025-03-17", "2025-04-21", "2025-02-03", "2025-12-26", "2025-10-27"}),
    ],
)
def test_calendar_holds_its_holidays(calendar_id: str, year: int, expected: set[str]) -> None:
    assert {D(day) for day in expected} <= holidays_in_year(calendar_id, year)


@pytest.mark.parametrize(
    ("calendar_id", "day"),
    [
        ("US-FED", "2025-11-28"),  # the day after Thanksgiving is a California holiday, not a federal one
        ("US-FED", "2024-12-24"),  # closed by executive order: ad-hoc closures are left out
        ("US-FED", "2025-01-09"),  # National Day of Mourning (executive order)
        ("US-FED", "2025-03-31"),  # Cesar Chavez Day (California)
        ("EU-DE", "2025-06-19"),  # Corpus Christi: some Länder only
        ("EU-DE", "2025-11-01"),  # All Saints: some Länder only
        ("EU-IE", "2025-04-18"),  # Good Friday is not a public holiday in Ireland
        ("WEEKENDS_ONLY", "2025-12-25"),
    ],
)
def test_calendar_leaves_out_days_that_are_not_its_holidays(calendar_id: str, day: str) -> None:
    assert D(day) not in HolidayCalendar(calendar_id)


def test_calendar_ids_are_normalised_and_validated() -> None:
    assert normalize_calendar_id(" eu-de ") == "EU-DE"
    assert normalize_calendar_id("us-fed") == "US-FED"
    assert normalize_calendar_id("weekends_only") == WEEKENDS_ONLY
    assert normalize_calendar_id("gb-eng") == "GB-ENG"
    assert D("2025-06-19") in HolidayCalendar("EU-AT")  # generic EU-<CC>: Corpus Christi is national in Austria
    for bad in ("EU-US", "EU-XX", "ZZ", "DE-ZZ", "FED", ""):
        with pytest.raises(UnknownCalendar):
            normalize_calendar_id(bad)


def test_roll_and_business_days_by_hand() -> None:
    germany = HolidayCalendar("EU-DE")
    federal = HolidayCalendar("US-FED")

    assert roll(D("2024-03-29"), germany) == D("2024-04-02")  # Good Friday, weekend, Easter Monday
    assert roll(D("2024-04-03"), germany) == D("2024-04-03")
    assert business_days_after(D("2025-01-31"), 0, federal) == D("2025-01-31")
    assert business_days_after(D("2025-02-14"), 1, federal) == D("2025-02-18")  # Presidents' Day
    assert business_days_after(D("2025-02-14"), 1, HolidayCalendar(WEEKENDS_ONLY)) == D("2025-02-17")
    holidays = federal.holidays_between(D("2025-11-01"), D("2025-12-31"))
    assert holidays == [D("2025-11-11"), D("2025-11-27"), D("2025-12-25")]
