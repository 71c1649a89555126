"""Inbound provenance validation: the rule against ledger facts (no database), the endpoint against
the real ledger, the alerts it opens and the legal team's compare-and-set triage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source
from core.models import AuditLogEntry, Organization
from core.problems import InvalidInput
from provenance.claims import ABSENT, LedgerFacts, LedgerGrant, ProvenanceClaim, provenance_failures
from provenance.models import ProvenanceAlert
from provenance.services.alerts import provenance_alert_acknowledge, provenance_alert_resolve
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem, iso, pointers
from tests.consent.test_openapi import assert_matches, response_schema

urlpatterns = [
    path("api/v1/", include("provenance.api.urls")),
    path("", include("config.urls")),
]
pytestmark = pytest.mark.urls(__name__)

VALIDATE = "/api/v1/provenance/validate"
GRANTED_AT = datetime(2026, 1, 10, 12, 0, 0, 250000, tzinfo=UTC)


def problems(failures: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(failure["field"], failure["problem"]) for failure in failures}


# ---------------------------------------------------------------------------------------------
# The rule, on ledger facts
# ---------------------------------------------------------------------------------------------

LEDGER = LedgerFacts(
    is_subject_known=True,
    known_purposes=frozenset({"marketing-email", "analytics"}),
    statuses={"marketing-email": "given", "analytics": "withdrawn"},
    grants=(
        LedgerGrant("marketing-email", GRANTED_AT - timedelta(days=30), "partner-feed", "2025-01", "DE"),
        LedgerGrant("marketing-email", GRANTED_AT, "web-signup", "2025-02", "DE"),
        LedgerGrant("analytics", GRANTED_AT, "web-signup", None, "DE"),
    ),
    registered_sources=frozenset({"web-signup"}),
    policy_versions={"marketing-email": frozenset({"2025-01", "2025-02"}), "analytics": frozenset()},
)


def claim(**overrides: Any) -> ProvenanceClaim:
    values: dict[str, Any] = {
        "subject_id": "cust-1",
        "purposes": ("marketing-email",),
        "source": "web-signup",
        "consent_timestamp": "2026-01-10T12:00:00Z",
        "opt_in": True,
    }
    values.update(overrides)
    return ProvenanceClaim(**values)


def test_a_claim_that_matches_the_ledger_has_no_failures() -> None:
    assert provenance_failures(claim(policy_version="2025-02", jurisdiction="de"), LEDGER) == []


@pytest.mark.parametrize("field", ["consent_timestamp", "opt_in", "source"])
@pytest.mark.parametrize("absent", [ABSENT, None])
def test_each_required_field_absent_or_null_is_missing(field: str, absent: Any) -> None:
    assert problems(provenance_failures(claim(**{field: absent}), LEDGER)) == {(field, "missing")}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consent_timestamp", "yesterday"),
        ("consent_timestamp", "2026-01-10T12:00:00"),  # no offset: ambiguous evidence
        ("consent_timestamp", 1768046400),
        ("opt_in", "yes"),
        ("opt_in", 1),
        ("source", "Web Signup"),
        ("source", ["web-signup"]),
        ("policy_version", 7),
        ("jurisdiction", "Germany"),
    ],
)
def test_a_wrongly_typed_or_shaped_value_is_malformed(field: str, value: Any) -> None:
    assert problems(provenance_failures(claim(**{field: value}), LEDGER)) == {(field, "malformed")}


@pytest.mark.parametrize(("offset_ms", "matches"), [(0, True), (-1000, True), (1000, True), (1001, False)])
def test_the_consent_timestamp_matches_a_grant_within_one_second(offset_ms: int, matches: bool) -> None:
    claimed = iso(GRANTED_AT + timedelta(milliseconds=offset_ms))

    failures = provenance_failures(claim(consent_timestamp=claimed), LEDGER)

    assert problems(failures) == (set() if matches else {("consent_timestamp", "contradicts_ledger")})


def test_opt_in_against_a_withdrawal_contradicts_the_ledger() -> None:
    failures = provenance_failures(claim(purposes=("analytics",)), LEDGER)

    assert failures == [
        {
            "field": "opt_in",
            "problem": "contradicts_ledger",
            "detail": "The record claims an opt-in for purpose 'analytics'; the ledger says 'withdrawn'.",
        }
    ]


def test_a_source_other_than_the_grants_contradicts_the_ledger_and_an_unregistered_one_is_unknown() -> None:
    matched_older_grant = claim(consent_timestamp=iso(GRANTED_AT - timedelta(days=30)), source="web-signup")

    assert problems(provenance_failures(matched_older_grant, LEDGER)) == {("source", "contradicts_ledger")}
    assert problems(provenance_failures(claim(source="partner-x"), LEDGER)) == {("source", "unknown")}


def test_unknown_policy_version_subject_and_purpose_are_reported() -> None:
    unknown_subject = LedgerFacts(
        is_subject_known=False,
        known_purposes=LEDGER.known_purposes,
        statuses={},
        grants=(),
        registered_sources=LEDGER.registered_sources,
        policy_versions=LEDGER.policy_versions,
    )

    assert problems(provenance_failures(claim(policy_version="1999"), LEDGER)) == {("policy_version", "unknown")}
    assert problems(provenance_failures(claim(purposes=("marketing-email", "nope")), LEDGER)) == {
        ("purposes", "unknown")
    }
    assert problems(provenance_failures(claim(), unknown_subject)) == {
        ("subject_id", "unknown"),
        ("consent_timestamp", "contradicts_ledger"),
        ("opt_in", "contradicts_ledger"),
    }


def test_failure_details_never_echo_the_claimed_values() -> None:
    odd = claim(consent_timestamp="2026-13-99Tsecret", source="Secret Source", opt_in="secret", jurisdiction="secret")

    text = repr(provenance_failures(odd, LEDGER))

    assert "secret" not in text.lower()


# ---------------------------------------------------------------------------------------------
# The endpoint, on the real ledger
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def validator(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "stamp")


@pytest.fixture
def granted(organization: Organization, source: Source, purpose: Purpose) -> datetime:
    """cust-1 granted marketing-email through web-signup a minute ago; returns when."""
    occurred_at = (timezone.now() - timedelta(minutes=1)).replace(microsecond=400000)
    consent_services.consent_record(organization=organization, item=event_input(occurred_at=occurred_at))
    return occurred_at


def record_body(granted_at: datetime, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject_id": "cust-1",
        "purposes": ["marketing-email"],
        "source": "web-signup",
        "consent_timestamp": iso(granted_at.replace(microsecond=0)),  # a partner that drops the fraction
        "opt_in": True,
        "jurisdiction": "DE",
    }
    body.update(overrides)
    return body


def test_a_valid_record_is_valid_and_opens_no_alert(validator: APIClient, granted: datetime) -> None:
    response = validator.post(VALIDATE, record_body(granted), format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {"valid": True, "failures": [], "alert_id": None}
    assert ProvenanceAlert.objects.count() == 0


def test_a_record_without_opt_in_reports_it_missing_and_opens_an_alert(
    validator: APIClient, granted: datetime, organization: Organization
) -> None:
    body = record_body(granted)
    del body["opt_in"]

    response = validator.post(VALIDATE, body, format="json")

    result = response.json()
    assert response.status_code == 200
    assert result["valid"] is False
    assert problems(result["failures"]) == {("opt_in", "missing")}
    alert = ProvenanceAlert.objects.get(public_id=result["alert_id"])
    assert (alert.organization, alert.kind, alert.status) == (organization, "validation", "open")
    assert alert.failures == result["failures"]
    assert (alert.subject_external_id, alert.source_key) == ("cust-1", "web-signup")


def test_a_malformed_consent_timestamp_is_reported_malformed(validator: APIClient, granted: datetime) -> None:
    response = validator.post(VALIDATE, record_body(granted, consent_timestamp="10/01/2026 12:00"), format="json")

    assert problems(response.json()["failures"]) == {("consent_timestamp", "malformed")}
    assert "10/01/2026" not in str(ProvenanceAlert.objects.get().failures)


def test_opt_in_after_a_withdrawal_contradicts_the_ledger(
    validator: APIClient, granted: datetime, organization: Organization
) -> None:
    withdrawal = event_input(action="withdraw", occurred_at=granted + timedelta(seconds=30))
    consent_services.consent_record(organization=organization, item=withdrawal)

    response = validator.post(VALIDATE, record_body(granted), format="json")

    assert response.json()["valid"] is False
    assert response.json()["failures"] == [
        {
            "field": "opt_in",
            "problem": "contradicts_ledger",
            "detail": "The record claims an opt-in for purpose 'marketing-email'; the ledger says 'withdrawn'.",
        }
    ]


def test_a_timestamp_matching_no_grant_and_an_unknown_policy_version_are_reported(
    validator: APIClient, granted: datetime
) -> None:
    body = record_body(granted, consent_timestamp=iso(granted + timedelta(seconds=5)), policy_version="v9")

    failures = validator.post(VALIDATE, body, format="json").json()["failures"]

    assert problems(failures) == {("consent_timestamp", "contradicts_ledger"), ("policy_version", "unknown")}


def test_each_failing_record_opens_its_own_alert(validator: APIClient, granted: datetime) -> None:
    first = validator.post(VALIDATE, record_body(granted, opt_in=None), format="json").json()
    second = validator.post(VALIDATE, record_body(granted, source="unregistered"), format="json").json()
    validator.post(VALIDATE, record_body(granted), format="json")  # valid: no alert

    assert first["alert_id"] != second["alert_id"]
    assert sorted(ProvenanceAlert.objects.values_list("public_id", flat=True)) == sorted(
        [first["alert_id"], second["alert_id"]]
    )
    assert ProvenanceAlert.objects.get(public_id=second["alert_id"]).source_key == "unregistered"
    assert AuditLogEntry.objects.filter(action="provenance_alert.opened").count() == 2


def test_another_organizations_subject_is_unknown_here(
    granted: datetime, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    outsider = api_client_for(other_organization, "stamp")

    result = outsider.post(VALIDATE, record_body(granted), format="json").json()

    assert ("subject_id", "unknown") in problems(result["failures"])
    assert ("purposes", "unknown") in problems(result["failures"])
    assert ProvenanceAlert.objects.get().organization == other_organization


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"subject_id": "cust-1", "purposes": ["marketing-email"], "email": "a@example.com"}, "/email"),
        ({"purposes": ["marketing-email"]}, "/subject_id"),
        ({"subject_id": "cust-1", "purposes": []}, "/purposes"),
        ({"subject_id": "cust-1", "purposes": "marketing-email"}, "/purposes"),
    ],
)
def test_unknown_fields_and_a_missing_subject_or_purposes_are_a_422_and_open_nothing(
    validator: APIClient, granted: datetime, body: dict[str, Any], pointer: str
) -> None:
    response = validator.post(VALIDATE, body, format="json")

    assert pointer in pointers(assert_problem(response, 422, "validation-error"))
    assert ProvenanceAlert.objects.count() == 0


def test_validation_needs_the_stamp_scope(
    granted: datetime, organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    reader = api_client_for(organization, "consent:read", "provenance:read")

    assert_problem(reader.post(VALIDATE, record_body(granted), format="json"), 403, "insufficient-scope")
    assert_problem(APIClient().post(VALIDATE, record_body(granted), format="json"), 401, "unauthenticated")
    assert ProvenanceAlert.objects.count() == 0


# ---------------------------------------------------------------------------------------------
# Triage: open -> acknowledged -> resolved, each once
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def alert(validator: APIClient, granted: datetime) -> ProvenanceAlert:
    alert_id = validator.post(VALIDATE, record_body(granted, opt_in=None), format="json").json()["alert_id"]
    return ProvenanceAlert.objects.get(public_id=alert_id)


def audit_actions(alert: ProvenanceAlert) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(object_type="provenance_alert", object_id=alert.public_id)
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_acknowledging_an_open_alert_happens_once(alert: ProvenanceAlert) -> None:
    assert provenance_alert_acknowledge(alert=alert, actor="legal@acme") is True
    assert alert.status == "acknowledged"

    assert provenance_alert_acknowledge(alert=alert, actor="legal@acme") is False
    assert alert.status == "acknowledged"
    assert audit_actions(alert) == ["provenance_alert.opened", "provenance_alert.acknowledged"]


def test_resolving_happens_once_and_keeps_the_first_note(alert: ProvenanceAlert) -> None:
    provenance_alert_acknowledge(alert=alert, actor="legal@acme")

    assert provenance_alert_resolve(alert=alert, note="Partner re-sent with opt-in.", actor="legal@acme") is True
    assert (alert.status, alert.note, alert.resolved_by) == ("resolved", "Partner re-sent with opt-in.", "legal@acme")

    assert provenance_alert_resolve(alert=alert, note="Second thoughts", actor="other@acme") is False
    assert provenance_alert_acknowledge(alert=alert, actor="other@acme") is False
    assert (alert.status, alert.note, alert.resolved_by) == ("resolved", "Partner re-sent with opt-in.", "legal@acme")
    assert audit_actions(alert) == [
        "provenance_alert.opened",
        "provenance_alert.acknowledged",
        "provenance_alert.resolved",
    ]


def test_an_open_alert_can_be_resolved_directly(alert: ProvenanceAlert) -> None:
    assert provenance_alert_resolve(alert=alert, note="Duplicate of an earlier alert.", actor="legal@acme") is True
    assert alert.status == "resolved"


def test_resolving_without_a_note_is_refused_and_changes_nothing(alert: ProvenanceAlert) -> None:
    with pytest.raises(InvalidInput):
        provenance_alert_resolve(alert=alert, note="   ", actor="legal@acme")

    alert.refresh_from_db()
    assert alert.status == "open"
    assert audit_actions(alert) == ["provenance_alert.opened"]


def test_validation_answers_match_their_documented_schema(validator: APIClient, granted: datetime) -> None:
    schema = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    documented = response_schema(schema, "POST", VALIDATE, 200)

    for body in (record_body(granted), record_body(granted, opt_in="yes", source=None)):
        assert_matches(schema, validator.post(VALIDATE, body, format="json").json(), documented)
    refused = validator.post(VALIDATE, {"subject_id": "cust-1"}, format="json").json()
    assert_matches(schema, refused, response_schema(schema, "POST", VALIDATE, 422))


# ---------------------------------------------------------------------------------------------
# alert_id is a ULID, not a counter shared by every tenant (#11 item 12)
# ---------------------------------------------------------------------------------------------


def test_alert_ids_reveal_nothing_of_other_tenants_activity(
    validator: APIClient,
    granted: datetime,
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
) -> None:
    """An integer id let tenant B count tenant A's failing records between two of its own; a ULID holds
    only a time and randomness, and is the alert's public id everywhere (audit log, admin)."""
    other = api_client_for(other_organization, "stamp")
    unknown_subject = {"subject_id": "nobody", "purposes": ["x"], "source": "s", "consent_timestamp": None}
    first = other.post(VALIDATE, unknown_subject, format="json").json()["alert_id"]
    for _ in range(3):  # tenant A's activity in between
        validator.post(VALIDATE, record_body(granted, opt_in=None), format="json")
    second = other.post(VALIDATE, unknown_subject, format="json").json()["alert_id"]

    for alert_id in (first, second):
        assert isinstance(alert_id, str)
        assert len(alert_id) == 26
        assert not alert_id.isdigit()
        alert = ProvenanceAlert.objects.get(public_id=alert_id)
        assert alert.organization == other_organization
        assert AuditLogEntry.objects.filter(action="provenance_alert.opened", object_id=alert_id).count() == 1
    assert ProvenanceAlert.objects.count() == 5
