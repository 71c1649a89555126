"""Issue #14: what the deadline engine tells a reader (each deadline's rule, its warnings, the refusals and the
reason sent to a requester) cites the law, never the project's internal brief or its ambiguity-register codes."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest

from dsar.deadlines import ClockEvent, DeadlineError, DeadlinePolicy, ExtensionNotice, compute_deadlines
from dsar.messages import gdpr_unable_to_identify_reason

INTERNAL = re.compile(r"REGULATORY|\bA\d{1,2}\b|§0\b")
GDPR_DE = {"regime": "gdpr", "calendar": "EU-DE", "tz": "Europe/Berlin"}


def noon(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def ev(kind: str, day: str) -> ClockEvent:
    return ClockEvent(kind, date.fromisoformat(day))


SCENARIOS = {
    "gdpr, answered identity pause, extended": {
        **GDPR_DE,
        "request_type": "access",
        "received_at": noon("2024-03-05"),
        "events": [ev("id_requested", "2024-03-06"), ev("id_received", "2024-03-12")],
        "extension": ExtensionNotice(notice_sent_on=date(2024, 3, 20), reason_code="complexity"),
    },
    "gdpr, open identity pause": {
        **GDPR_DE,
        "request_type": "access",
        "received_at": noon("2024-03-05"),
        "events": [ev("id_requested", "2024-03-06")],
        "as_of": date(2024, 5, 1),
    },
    "gdpr, late identity request, near midnight": {
        **GDPR_DE,
        "request_type": "access",
        "received_at": datetime.fromisoformat("2024-03-31T23:30:00+00:00"),
        "events": [ev("id_requested", "2024-04-10")],
    },
    "ccpa deletion": {"regime": "ccpa", "request_type": "deletion", "received_at": noon("2025-01-31")},
    "ccpa deletion, rolled": {
        "regime": "ccpa",
        "request_type": "deletion",
        "received_at": noon("2025-01-31"),
        "policy": DeadlinePolicy(ccpa_roll_calendar_days=True),
    },
    "ccpa opt-out": {"regime": "ccpa", "request_type": "opt_out_of_sale", "received_at": noon("2025-01-31")},
    "oregon opt-out": {"regime": "ocpa", "request_type": "opt_out_of_sale", "received_at": noon("2025-01-31")},
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_deadline_rules_and_warnings_cite_the_law_only(name: str) -> None:
    result = compute_deadlines(**SCENARIOS[name])

    told = [*result.rules.values(), *result.warnings]
    assert told
    assert [text for text in told if INTERNAL.search(text)] == []


def test_the_identity_pause_rules_name_the_edpb_guidelines() -> None:
    result = compute_deadlines(**SCENARIOS["gdpr, open identity pause"])

    assert "EDPB Guidelines 01/2022 §159" in result.rules["identity_cutoff"]
    assert "EDPB Guidelines 01/2022 §159" in result.rules["identity_reminder_due"]
    assert "Reg. 1182/71 Art. 2(1)" in result.rules["receipt_date"]


def test_a_missing_member_state_calendar_is_refused_citing_the_regulation() -> None:
    with pytest.raises(DeadlineError) as refused:
        compute_deadlines(regime="gdpr", request_type="access", received_at=noon("2025-01-31"))

    assert "Reg. 1182/71 Art. 2(1)" in str(refused.value)
    assert not INTERNAL.search(str(refused.value))


def test_the_unable_to_identify_reason_sent_to_the_requester_cites_the_law_only() -> None:
    reason = gdpr_unable_to_identify_reason(requested_on=date(2024, 3, 6), cutoff=date(2024, 4, 6))

    assert "EDPB Guidelines 01/2022 §159" in reason
    assert "GDPR Art. 12(2), 12(6)" in reason
    assert not INTERNAL.search(reason)
