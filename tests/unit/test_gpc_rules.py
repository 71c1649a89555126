"""Global Privacy Control as pure rules: parsing Sec-GPC (A9), the decision per jurisdiction and date,
the purposes a signal covers, overriding it (A10), effective permission, the GPC cases of the state fold,
and the system checks that guard the rule table and lastUpdate. No database."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.gpc import (
    DISPLAY_HONORED,
    VOLUNTARY_SIGNAL_COVERS,
    GpcDecision,
    covered_purpose_keys,
    gpc_decision,
    is_malformed_sec_gpc,
    may_override_gpc,
    parse_sec_gpc,
    purpose_signal_categories,
)
from consent.permission import BASES, effective_permission
from consent.state import (
    EXPIRED,
    GIVEN,
    INVALIDATED,
    REFUSED,
    RENEWED,
    STALE,
    UNKNOWN,
    WITHDRAWN,
    FoldedState,
    LedgerEntry,
    fold,
    replay,
    sorts_after,
)
from core import checks
from core.jurisdiction_rules import FALLBACK, jurisdiction_rules, load_rule_table_raw

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)

# (key, is_sale_or_sharing, is_targeted_advertising)
SALE = ("ad-sale", True, False)
TARGETED = ("targeted-ads", False, True)
NEWSLETTER = ("newsletter", False, False)
PURPOSES = [SALE, TARGETED, NEWSLETTER]


# --------------------------------------------------------------------------------------------
# Parsing the header (GPC spec; RFC 9110 §5.5; A9)
# --------------------------------------------------------------------------------------------

SIGNALS = ["1", "1 ", " 1", "\t1", "1\t", " \t1\t ", "0, 1", "1,1", "1, 0", "0,1", "true, 1", ",1", "1,"]
NON_SIGNALS = [
    "0",
    "true",
    "True",
    "yes",
    "1.0",
    "",
    " ",
    "1\u00a0",
    "\u00a01",
    "01",
    "+1",
    "1 1",
    "1;q=1",
    '"1"',
    "0, 0",
    ",",
    "1\r",
    "\n1",
    "\u200b1",
    "\uff11",  # FULLWIDTH DIGIT ONE
]


@pytest.mark.parametrize("raw", SIGNALS, ids=repr)
def test_field_value_of_exactly_one_after_trimming_ows_is_a_signal(raw: str) -> None:
    assert parse_sec_gpc(raw) is True
    assert is_malformed_sec_gpc(raw) is False


@pytest.mark.parametrize("raw", NON_SIGNALS, ids=repr)
def test_any_other_field_value_is_no_signal_and_is_reported_as_malformed(raw: str) -> None:
    assert parse_sec_gpc(raw) is False
    assert is_malformed_sec_gpc(raw) is True


def test_absent_header_is_no_signal_and_not_malformed() -> None:
    assert parse_sec_gpc(None) is False
    assert is_malformed_sec_gpc(None) is False


OWS = st.text(alphabet=" \t", max_size=4)
ELEMENT = st.text(alphabet=st.characters(blacklist_characters=","), max_size=6)


@given(before=OWS, after=OWS)
def test_one_surrounded_by_any_optional_whitespace_is_a_signal(before: str, after: str) -> None:
    assert parse_sec_gpc(f"{before}1{after}")


@given(elements=st.lists(ELEMENT, min_size=1, max_size=5))
def test_combined_fields_are_a_signal_exactly_when_one_of_them_is(elements: list[str]) -> None:
    combined = ",".join(elements)

    assert parse_sec_gpc(combined) == any(parse_sec_gpc(element) for element in elements)


@given(value=ELEMENT)
def test_a_single_field_is_a_signal_only_when_it_trims_to_exactly_one(value: str) -> None:
    assert parse_sec_gpc(value) == (value.strip(" \t") == "1")


# --------------------------------------------------------------------------------------------
# The decision: where and from when the signal binds, and what it covers
# --------------------------------------------------------------------------------------------

# REGULATORY.md 2.3: "CO 2024-07-01; CT, TX and MT 2025-01-01; NJ 2025-07-15; OR 2026-01-01".
BINDING_FROM = [
    ("US-CO", date(2024, 7, 1)),
    ("US-CT", date(2025, 1, 1)),
    ("US-TX", date(2025, 1, 1)),
    ("US-MT", date(2025, 1, 1)),
    ("US-NJ", date(2025, 7, 15)),
    ("US-OR", date(2026, 1, 1)),
]


@pytest.mark.parametrize(("jurisdiction", "start"), BINDING_FROM)
def test_signal_is_not_binding_the_day_before_the_states_obligation_starts(jurisdiction: str, start: date) -> None:
    decision = gpc_decision(jurisdiction=jurisdiction, honor_everywhere=False, on=start - timedelta(days=1))

    assert decision == GpcDecision(jurisdiction, False, False, frozenset())


@pytest.mark.parametrize(("jurisdiction", "start"), BINDING_FROM)
def test_signal_binds_from_the_first_day_of_the_states_obligation(jurisdiction: str, start: date) -> None:
    for day in (start, start + timedelta(days=1), TODAY):
        decision = gpc_decision(jurisdiction=jurisdiction, honor_everywhere=False, on=day)

        assert decision.is_honored
        assert decision.is_legally_required
        assert decision.covers == {"sale", "targeted_advertising"}


@pytest.mark.parametrize(("jurisdiction", "start"), BINDING_FROM)
def test_before_the_obligation_the_signal_is_honored_only_voluntarily(jurisdiction: str, start: date) -> None:
    decision = gpc_decision(jurisdiction=jurisdiction, honor_everywhere=True, on=start - timedelta(days=1))

    assert decision.is_honored
    assert not decision.is_legally_required


def test_california_signal_binds_and_covers_sale_and_sharing() -> None:
    decision = gpc_decision(jurisdiction="US-CA", honor_everywhere=False, on=TODAY)

    assert (decision.is_honored, decision.is_legally_required) == (True, True)
    assert decision.covers == {"sale", "sharing"}


@pytest.mark.parametrize("jurisdiction", ["US-VA", "US-UT", "US-WY", "US", "DE", "FR-75", "GB", "JP", None])
def test_where_no_law_binds_the_signal_is_honored_only_when_the_organization_honors_it_everywhere(
    jurisdiction: str | None,
) -> None:
    voluntary = gpc_decision(jurisdiction=jurisdiction, honor_everywhere=True, on=TODAY)
    ignored = gpc_decision(jurisdiction=jurisdiction, honor_everywhere=False, on=TODAY)

    assert (voluntary.is_honored, voluntary.is_legally_required) == (True, False)
    assert voluntary.covers == VOLUNTARY_SIGNAL_COVERS
    assert (ignored.is_honored, ignored.is_legally_required, ignored.covers) == (False, False, frozenset())


@pytest.mark.parametrize(
    ("jurisdiction", "code", "regime"),
    [
        ("DE", "DE", "opt_in"),
        ("DE-BY", "DE", "opt_in"),
        ("US-CA", "US-CA", "opt_out"),
        ("US-CO", "US-CO", "opt_out"),
        ("US-VA", "US-VA", "opt_out"),
        ("US-WY", "US", "opt_out"),
        ("JP", FALLBACK, "opt_in"),
        ("BR-SP", FALLBACK, "opt_in"),
        (None, FALLBACK, "opt_in"),
    ],
)
def test_each_jurisdiction_resolves_to_its_rule_and_regime(jurisdiction: str | None, code: str, regime: str) -> None:
    rule = jurisdiction_rules().rule_for(jurisdiction)

    assert (rule.code, rule.regime) == (code, regime)


def test_purpose_categories_map_sale_sharing_and_targeted_advertising() -> None:
    assert purpose_signal_categories(is_sale_or_sharing=True, is_targeted_advertising=False) == {"sale", "sharing"}
    # CCPA "sharing" is cross-context behavioural advertising.
    assert purpose_signal_categories(is_sale_or_sharing=False, is_targeted_advertising=True) == {
        "targeted_advertising",
        "sharing",
    }
    assert purpose_signal_categories(is_sale_or_sharing=False, is_targeted_advertising=False) == frozenset()


@pytest.mark.parametrize("jurisdiction", ["US-CA", "US-CO", "US-CT", "DE", "US-VA"])
def test_signal_covers_sale_and_advertising_purposes_and_never_a_purpose_with_neither_flag(jurisdiction: str) -> None:
    decision = gpc_decision(jurisdiction=jurisdiction, honor_everywhere=True, on=TODAY)

    assert covered_purpose_keys(decision, PURPOSES) == ["ad-sale", "targeted-ads"]


def test_a_signal_that_is_not_honored_covers_no_purpose() -> None:
    decision = gpc_decision(jurisdiction="US-VA", honor_everywhere=False, on=TODAY)

    assert covered_purpose_keys(decision, PURPOSES) == []
    assert not decision.covers_purpose(is_sale_or_sharing=True, is_targeted_advertising=True)


def test_colorado_signal_covers_targeted_advertising_without_the_sharing_category() -> None:
    decision = gpc_decision(jurisdiction="US-CO", honor_everywhere=False, on=TODAY)

    assert decision.covers_purpose(is_sale_or_sharing=False, is_targeted_advertising=True)
    assert "sharing" not in decision.covers


# --------------------------------------------------------------------------------------------
# Overriding the signal with a later, explicitly confirmed consent (A10)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jurisdiction", "known", "on", "expected"),
    [
        ("US-CA", True, TODAY, True),  # CCPA regs §7025(c)(3)
        ("US-CO", True, TODAY, True),  # CO Rule 5.09
        ("US-CA", False, TODAY, False),  # only for a known consumer
        ("US-CO", False, TODAY, False),
        ("US-CT", True, TODAY, False),  # binding, and no post-signal consent
        ("US-CT", False, TODAY, False),
        ("US-TX", True, TODAY, False),
        ("US-CT", True, date(2024, 12, 31), True),  # not yet binding: an explicit opt-in is consent
        ("US-VA", True, TODAY, True),
        ("US-VA", False, TODAY, False),
        ("DE", True, TODAY, True),
    ],
)
def test_a_confirmed_grant_overrides_the_signal_only_for_a_known_person_where_the_law_allows(
    jurisdiction: str, known: bool, on: date, expected: bool
) -> None:
    assert may_override_gpc(jurisdiction=jurisdiction, subject_is_known=known, on=on) is expected


# --------------------------------------------------------------------------------------------
# Effective permission under each regime
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "gpc_opt_out", "regime", "sensitive", "expected"),
    [
        (UNKNOWN, False, "opt_in", False, (False, "no_consent_on_record")),
        (UNKNOWN, False, "opt_out", False, (True, "no_opt_out_on_record")),
        (UNKNOWN, False, "opt_out", True, (False, "no_consent_on_record")),
        (INVALIDATED, False, "opt_in", False, (False, "no_consent_on_record")),
        (INVALIDATED, False, "opt_out", False, (True, "no_opt_out_on_record")),
        (GIVEN, False, "opt_in", False, (True, "explicit_opt_in")),
        (RENEWED, False, "opt_out", True, (True, "explicit_opt_in")),
        (WITHDRAWN, False, "opt_in", False, (False, "withdrawn")),
        (WITHDRAWN, False, "opt_out", False, (False, "opted_out")),
        (REFUSED, False, "opt_in", False, (False, "opted_out")),
        (REFUSED, False, "opt_out", False, (False, "opted_out")),
        (EXPIRED, False, "opt_in", False, (False, "expired")),
        (STALE, False, "opt_in", False, (False, "stale_policy")),
        (WITHDRAWN, True, "opt_out", False, (False, "gpc_opt_out")),
        (REFUSED, True, "opt_in", False, (False, "gpc_opt_out")),
    ],
)
def test_effective_permission_follows_the_regime(
    status: str, gpc_opt_out: bool, regime: str, sensitive: bool, expected: tuple[bool, str]
) -> None:
    assert effective_permission(status=status, gpc_opt_out=gpc_opt_out, regime=regime, is_sensitive=sensitive) == (
        expected
    )


@pytest.mark.parametrize(
    ("legal_basis", "status", "gpc_opt_out", "regime", "sensitive", "expected"),
    [
        # Consent is not what makes these lawful: nothing on record, expiry and staleness do not matter.
        ("contract", UNKNOWN, False, "opt_in", False, (True, "contract")),
        ("legal_obligation", EXPIRED, False, "opt_in", False, (True, "legal_obligation")),
        ("vital_interests", STALE, False, "opt_in", False, (True, "vital_interests")),
        ("legitimate_interest", UNKNOWN, False, "opt_in", False, (True, "legitimate_interest")),
        ("public_task", UNKNOWN, False, "opt_out", False, (True, "public_task")),
        # A withdrawal of a consent that was never the basis does not end a contract under GDPR...
        ("contract", WITHDRAWN, False, "opt_in", False, (True, "contract")),
        # ...but it is an objection (Art. 21(1)) to legitimate interest and public task,
        ("legitimate_interest", WITHDRAWN, False, "opt_in", False, (False, "objected")),
        ("public_task", REFUSED, False, "opt_in", False, (False, "objected")),
        # a US opt-out is honored whatever the basis, and GPC always.
        ("contract", WITHDRAWN, False, "opt_out", False, (False, "opted_out")),
        ("legitimate_interest", REFUSED, False, "opt_out", False, (False, "opted_out")),
        ("contract", GIVEN, True, "opt_in", False, (False, "gpc_opt_out")),
        ("legitimate_interest", UNKNOWN, True, "opt_out", False, (False, "gpc_opt_out")),
        # Sensitive purposes are judged on consent whatever their stated basis.
        ("contract", UNKNOWN, False, "opt_in", True, (False, "no_consent_on_record")),
        ("legitimate_interest", GIVEN, False, "opt_in", True, (True, "explicit_opt_in")),
    ],
)
def test_purposes_on_another_lawful_basis_need_no_consent_but_honor_objections_and_opt_outs(
    legal_basis: str, status: str, gpc_opt_out: bool, regime: str, sensitive: bool, expected: tuple[bool, str]
) -> None:
    assert (
        effective_permission(
            status=status, gpc_opt_out=gpc_opt_out, regime=regime, is_sensitive=sensitive, legal_basis=legal_basis
        )
        == expected
    )


@given(
    status=st.sampled_from([GIVEN, RENEWED, REFUSED, WITHDRAWN, EXPIRED, INVALIDATED, STALE, UNKNOWN]),
    gpc_opt_out=st.booleans(),
    regime=st.sampled_from(["opt_in", "opt_out"]),
    sensitive=st.booleans(),
    legal_basis=st.sampled_from(
        ["consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interest"]
    ),
)
def test_permission_never_rests_on_absence_under_opt_in_nor_survives_a_gpc_or_us_opt_out(
    status: str, gpc_opt_out: bool, regime: str, sensitive: bool, legal_basis: str
) -> None:
    permitted, basis = effective_permission(
        status=status, gpc_opt_out=gpc_opt_out, regime=regime, is_sensitive=sensitive, legal_basis=legal_basis
    )

    assert basis in BASES
    if gpc_opt_out:
        assert (permitted, basis) == (False, "gpc_opt_out")
    if regime == "opt_out" and status in (REFUSED, WITHDRAWN):
        assert not permitted
    if permitted and (regime == "opt_in" or sensitive) and (legal_basis == "consent" or sensitive):
        assert basis == "explicit_opt_in"
    if permitted and legal_basis != "consent" and not sensitive:
        assert basis in ("explicit_opt_in", legal_basis)


# --------------------------------------------------------------------------------------------
# The fold with GPC flags
# --------------------------------------------------------------------------------------------


def entry(seq: int, action: str, minutes: float, *, gpc: bool = False, lifts: bool = False) -> LedgerEntry:
    return LedgerEntry(
        seq=seq,
        event_id=f"ev{seq}",
        action=action,
        occurred_at=T0 + timedelta(minutes=minutes),
        is_gpc=gpc,
        lifts_gpc=lifts,
    )


def final(*entries: LedgerEntry) -> FoldedState:
    state = replay(entries)
    assert state is not None
    return state


def test_gpc_opt_out_over_a_grant_withdraws_and_records_the_conflict() -> None:
    state = final(entry(1, "grant", 0), entry(2, "withdraw", 1, gpc=True))

    assert state.status == WITHDRAWN
    assert state.gpc_opt_out
    assert state.gpc_conflict


def test_gpc_opt_out_with_nothing_before_refuses_without_conflict() -> None:
    state = final(entry(1, "refuse", 0, gpc=True))

    assert (state.status, state.gpc_opt_out, state.gpc_conflict) == (REFUSED, True, False)


def test_an_ordinary_withdrawal_is_no_gpc_opt_out_and_no_conflict() -> None:
    state = final(entry(1, "grant", 0), entry(2, "withdraw", 1))

    assert (state.status, state.gpc_opt_out, state.gpc_conflict) == (WITHDRAWN, False, False)


def test_a_later_plain_grant_leaves_the_gpc_opt_out_standing() -> None:
    state = final(entry(1, "grant", 0), entry(2, "withdraw", 1, gpc=True), entry(3, "grant", 2))

    assert state.status == WITHDRAWN
    assert state.basis.seq == 2
    assert state.gpc_opt_out
    assert state.gpc_conflict
    assert state.last_key == entry(3, "grant", 2).order_key


def test_a_later_confirmed_grant_lifts_the_gpc_opt_out() -> None:
    state = final(entry(1, "grant", 0), entry(2, "withdraw", 1, gpc=True), entry(3, "grant", 2, lifts=True))

    assert state.status == RENEWED
    assert state.gpc_lifted
    assert not state.gpc_opt_out
    assert not state.gpc_conflict


def test_a_confirmed_grant_at_the_same_instant_as_the_signal_loses_to_it() -> None:
    # A14: at the same instant the privacy-protective action wins.
    state = final(entry(1, "grant", 5, lifts=True), entry(2, "refuse", 5, gpc=True))

    assert state.status == REFUSED
    assert state.gpc_opt_out


def test_the_signal_prevails_over_an_earlier_confirmed_grant() -> None:
    state = final(entry(1, "grant", 0, lifts=True), entry(2, "withdraw", 1, gpc=True))

    assert (state.status, state.gpc_opt_out, state.gpc_conflict) == (WITHDRAWN, True, True)


def test_a_repeated_gpc_opt_out_keeps_the_original_conflict() -> None:
    with_conflict = final(entry(1, "grant", 0), entry(2, "withdraw", 1, gpc=True), entry(3, "refuse", 2, gpc=True))
    without = final(entry(1, "refuse", 0, gpc=True), entry(2, "refuse", 1, gpc=True))

    assert with_conflict.gpc_conflict
    assert not without.gpc_conflict


def test_an_ordinary_refusal_after_the_signal_ends_the_gpc_opt_out_but_not_the_opt_out() -> None:
    state = final(entry(1, "refuse", 0, gpc=True), entry(2, "withdraw", 1))

    assert state.status == WITHDRAWN
    assert not state.gpc_opt_out


@settings(max_examples=200, deadline=None)
@given(
    before=st.lists(st.sampled_from(["grant", "refuse", "withdraw", "lifting-grant"]), max_size=4),
    after=st.lists(st.integers(min_value=1, max_value=30), max_size=6),
)
def test_only_a_later_confirmed_grant_ends_a_gpc_opt_out_and_absence_of_a_signal_never_does(
    before: list[str], after: list[int]
) -> None:
    """Whatever came before the signal, plain grants after it (in any arrival order) never re-permit."""
    entries = [
        entry(seq, "grant" if kind == "lifting-grant" else kind, -10 + seq, lifts=kind == "lifting-grant")
        for seq, kind in enumerate(before, start=1)
    ]
    signal = entry(len(entries) + 1, "withdraw", 0, gpc=True)
    later = [entry(len(entries) + 2 + i, "grant", minute) for i, minute in enumerate(after)]

    state = final(*entries, signal, *later)

    assert state.status in (REFUSED, WITHDRAWN)
    assert state.gpc_opt_out
    assert state.basis == signal


def fold_in_arrival_order(arrivals: list[LedgerEntry]) -> FoldedState | None:
    state: FoldedState | None = None
    arrived: list[LedgerEntry] = []
    for item in arrivals:
        arrived.append(item)
        state = fold(state, item) if sorts_after(state, item) else replay(arrived)
    return state


@st.composite
def gpc_histories(draw: st.DrawFn) -> list[LedgerEntry]:
    kinds = st.sampled_from(["grant", "lifting-grant", "refuse", "withdraw", "gpc-refuse", "gpc-withdraw"])
    specs = draw(st.lists(st.tuples(kinds, st.integers(min_value=0, max_value=5)), min_size=1, max_size=10))
    order = draw(st.permutations(range(len(specs))))
    arrivals = []
    for seq, index in enumerate(order, start=1):
        kind, minute = specs[index]
        action = kind.removeprefix("gpc-").replace("lifting-", "")
        arrivals.append(entry(seq, action, minute, gpc=kind.startswith("gpc-"), lifts=kind == "lifting-grant"))
    return arrivals


@settings(max_examples=300, deadline=None)
@given(arrivals=gpc_histories())
def test_gpc_flags_fold_incrementally_to_the_same_state_as_a_replay(arrivals: list[LedgerEntry]) -> None:
    assert fold_in_arrival_order(arrivals) == replay(arrivals)


# --------------------------------------------------------------------------------------------
# System checks: the rule table and the lastUpdate setting
# --------------------------------------------------------------------------------------------


def test_privacy_status_display_text_is_the_regulations_wording() -> None:
    assert DISPLAY_HONORED == "Opt-Out Request Honored"


def test_check_fails_on_a_jurisdiction_without_a_source() -> None:
    raw = copy.deepcopy(load_rule_table_raw())
    california = next(rule for rule in raw["jurisdictions"] if rule["code"] == "US-CA")
    del california["sources"]
    colorado = next(rule for rule in raw["jurisdictions"] if rule["code"] == "US-CO")
    colorado["sources"] = []

    errors = checks.check_jurisdiction_rules(raw_table=raw)

    assert [error.id for error in errors] == ["provenant.E004", "provenant.E004"]
    assert ["US-CA" in errors[0].msg, "US-CO" in errors[1].msg] == [True, True]
    assert all(error.is_serious() for error in errors)


def test_check_passes_on_the_packaged_rule_table_and_an_unset_last_update() -> None:
    with override_settings(PROVENANT_GPC_LAST_UPDATE=None):
        assert checks.check_jurisdiction_rules() == []
        assert checks.check_gpc_last_update_setting() == []


@pytest.mark.parametrize("value", ["2025-04-15", "2025-04-15T09:30:00Z", "2025-04-15t09:30:00.5+02:00"])
def test_rfc3339_last_update_passes_the_check(value: str) -> None:
    with override_settings(PROVENANT_GPC_LAST_UPDATE=value):
        assert checks.check_gpc_last_update_setting() == []


@pytest.mark.parametrize(
    "value", ["15/04/2025", "2025-4-15", "2025-04-15T09:30", "2025-04-31", "2025-04-15 09:30:00Z", "yesterday"]
)
def test_manage_py_check_fails_on_a_last_update_that_is_not_rfc3339(value: str) -> None:
    with override_settings(PROVENANT_GPC_LAST_UPDATE=value):
        assert [error.id for error in checks.check_gpc_last_update_setting()] == ["provenant.E013"]
        with pytest.raises(SystemCheckError, match=r"provenant\.E013"):
            call_command("check", "--tag", "provenant", verbosity=0)


def test_manage_py_check_process_exits_with_an_error_on_a_bad_last_update() -> None:
    env: dict[str, Any] = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PROVENANT_GPC_LAST_UPDATE": "April 2025",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--tag", "provenant"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "provenant.E013" in result.stderr
