"""Global Privacy Control through the HTTP API: the Sec-GPC header in every form (through the real
middleware), each jurisdiction class, conflicts and re-confirmation, idempotence under repeated and
concurrent requests, links, privacy status, the re-solicitation window, /.well-known/gpc.json and the
IAB strings in a subject's consent state."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from consent import iab
from consent import services as consent_services
from consent.models import CollectionMethod, ConsentEvent, GpcSignalReceipt, Purpose, Source, Subject
from core.jurisdiction_rules import jurisdiction_rules
from core.models import Organization
from core.problems import Conflict
from core.timeutil import add_months
from tests.conftest import event_body
from tests.consent.api_contract import assert_problem, row_counts

EVENTS = "/api/v1/consent-events"
BULK = "/api/v1/consent-events/bulk"
SIGNALS = "/api/v1/signals"
WELL_KNOWN = "/.well-known/gpc.json"
COVERED = ["ad-sale", "targeted-ads"]

SIGNAL_VALUES = ["1", "1 ", " 1", "\t1", "1\t", "0, 1", "1,1", "1, 0"]
NON_SIGNAL_VALUES = ["0", "true", "yes", "1.0", "", "1\u00a0", "\u00a01", "0, 0", "01"]


@pytest.fixture
def purposes(organization: Organization, source: Source) -> dict[str, Purpose]:
    """A sale purpose, a targeted-advertising purpose, and two a signal never touches."""
    specs: dict[str, dict[str, bool]] = {
        "ad-sale": {"is_sale_or_sharing": True},
        "targeted-ads": {"is_targeted_advertising": True},
        "newsletter": {},
        "health-data": {"is_sensitive": True},
    }
    return {
        key: consent_services.purpose_create(organization=organization, actor="test", key=key, name=key, **flags)
        for key, flags in specs.items()
    }


@pytest.fixture
def honor_only_where_binding(organization: Organization) -> Organization:
    return consent_services.organization_gpc_settings_update(
        organization=organization, honor_everywhere=False, actor="test"
    )


def gpc(raw: str) -> dict[str, Any]:
    """The WSGI environ entry of a ``Sec-GPC`` field (repeated fields arrive joined with ',')."""
    return {"HTTP_SEC_GPC": raw}


def record(client: APIClient, headers: dict[str, Any] | None = None, **overrides: Any) -> Any:
    body = event_body(**{"purpose": "newsletter", "jurisdiction": "US-CA", **overrides})
    response = client.post(EVENTS, body, format="json", **(headers or {}))
    assert response.status_code == 201, response.content[:500]
    return response


def consent(client: APIClient, subject_id: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.get(f"/api/v1/subjects/{subject_id}/consent", **(headers or {}))
    assert response.status_code == 200, response.content[:500]
    return response.json()  # type: ignore[no-any-return]


def purpose_state(client: APIClient, subject_id: str, purpose: str) -> dict[str, Any]:
    return next(p for p in consent(client, subject_id)["purposes"] if p["purpose"] == purpose)


def send_signal(client: APIClient, subject_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(SIGNALS, {"subject_id": subject_id, "gpc": True, **body}, format="json")
    assert response.status_code == 200, response.content[:500]
    return response.json()  # type: ignore[no-any-return]


def gpc_events(subject_id: str) -> list[tuple[str, str]]:
    return sorted(
        ConsentEvent.objects.filter(
            subject__external_id=subject_id, collection_method=CollectionMethod.GPC_SIGNAL
        ).values_list("purpose__key", "action")
    )


def ago(**delta: float) -> str:
    """An RFC 3339 instant that long before now."""
    return (timezone.now() - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Every form of the header, through the middleware
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", SIGNAL_VALUES, ids=repr)
def test_sec_gpc_one_in_any_valid_form_opts_out_of_the_covered_purposes(
    client_rw: APIClient, purposes: dict[str, Purpose], raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="consent.middleware")

    record(client_rw, gpc(raw), subject_id="visitor-1")

    assert gpc_events("visitor-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    stored = GpcSignalReceipt.objects.get(subject__external_id="visitor-1")
    assert (stored.channel, stored.raw_value, stored.is_honored) == ("header", raw, True)
    assert not [r for r in caplog.records if r.name == "consent.middleware"]


@pytest.mark.parametrize("raw", NON_SIGNAL_VALUES, ids=repr)
def test_any_other_sec_gpc_value_is_logged_ignored_and_never_an_error(
    client_rw: APIClient, purposes: dict[str, Purpose], raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="consent.middleware")

    created = record(client_rw, gpc(raw), subject_id="visitor-1").json()
    read = consent(client_rw, "visitor-1", gpc(raw))

    assert created["consent"]["permitted"] is True
    assert gpc_events("visitor-1") == []
    assert not GpcSignalReceipt.objects.exists()
    assert read["gpc_honored"] is False
    assert [p["basis"] for p in read["purposes"] if p["purpose"] in COVERED] == ["no_opt_out_on_record"] * 2
    logged = [r.getMessage() for r in caplog.records if r.name == "consent.middleware"]
    assert len(logged) == 2
    assert all(repr(raw) in message for message in logged)


@pytest.mark.parametrize("raw", ["1", " 1", "0, 1", "1\u00a0", "true"], ids=repr)
def test_every_gpc_aware_read_succeeds_whatever_the_header_says(
    client_rw: APIClient, purposes: dict[str, Purpose], raw: str
) -> None:
    record(client_rw, subject_id="cust-1")
    for path in ("consent", "consent-events", "privacy-status", "links", "solicitation?purpose=ad-sale"):
        response = client_rw.get(f"/api/v1/subjects/cust-1/{path}", **gpc(raw))
        assert response.status_code == 200, (path, response.content[:300])


def test_history_read_with_the_signal_reports_the_opt_outs_it_would_cause_and_writes_nothing(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1")

    history = client_rw.get("/api/v1/subjects/cust-1/consent-events", **gpc("1")).json()

    assert history["ledger_length"] == 1
    assert history["gpc_signal_on_read"]["recorded"] is False
    assert history["gpc_signal_on_read"]["would_opt_out"] == COVERED
    assert gpc_events("cust-1") == []


def test_client_reported_signal_in_an_event_or_a_bulk_item_is_honored_once(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="visitor-1", gpc=True)
    items = [event_body(subject_id="visitor-2", purpose="newsletter", jurisdiction="US-CO", gpc=True)] * 3

    response = client_rw.post(BULK, {"events": items}, format="json")

    assert response.status_code == 201
    assert gpc_events("visitor-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert gpc_events("visitor-2") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert GpcSignalReceipt.objects.get(subject__external_id="visitor-2").channel == "javascript"


def test_an_event_and_the_signal_it_carries_are_kept_together_or_not_at_all(
    client_rw: APIClient, purposes: dict[str, Purpose], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording and honouring the signal are one transaction: when honouring fails, the event goes too."""

    def signal_fails(**kwargs: Any) -> None:
        raise Conflict("The signal could not be honoured.")

    monkeypatch.setattr("consent.services.recording.gpc_signal_apply", signal_fails)
    before = row_counts()
    bulk_items = [event_body(subject_id="visitor-3", purpose="newsletter", jurisdiction="US-CO", gpc=True)]

    with_header = client_rw.post(
        EVENTS,
        event_body(subject_id="visitor-1", purpose="newsletter", jurisdiction="US-CA"),
        format="json",
        **gpc("1"),
    )
    with_item_signal = client_rw.post(
        EVENTS, event_body(subject_id="visitor-2", purpose="newsletter", jurisdiction="US-CA", gpc=True), format="json"
    )
    bulk = client_rw.post(BULK, {"events": bulk_items}, format="json")

    assert [with_header.status_code, with_item_signal.status_code, bulk.status_code] == [409, 409, 409]
    assert row_counts() == before
    assert not Subject.objects.filter(external_id__in=["visitor-1", "visitor-2", "visitor-3"]).exists()


# --------------------------------------------------------------------------------------------
# Jurisdiction classes
# --------------------------------------------------------------------------------------------


def test_opt_in_jurisdiction_without_a_decision_does_not_permit(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="kunde-1", jurisdiction="DE")

    sale = purpose_state(client_rw, "kunde-1", "ad-sale")

    assert (sale["status"], sale["permitted"], sale["basis"]) == ("unknown", False, "no_consent_on_record")


def test_opt_in_jurisdiction_honors_the_signal_voluntarily_when_the_organization_honors_it_everywhere(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="kunde-1", jurisdiction="DE")

    outcome = send_signal(client_rw, "kunde-1")
    state = consent(client_rw, "kunde-1")

    assert (outcome["honored"], outcome["legally_required"], outcome["purposes_opted_out"]) == (True, False, COVERED)
    assert {p["purpose"]: p["basis"] for p in state["purposes"]} == {
        "ad-sale": "gpc_opt_out",
        "targeted-ads": "gpc_opt_out",
        "newsletter": "explicit_opt_in",
        "health-data": "no_consent_on_record",
    }
    assert state["gpc_honored"] is True
    assert state["iab"] is None


def test_opt_in_jurisdiction_ignores_the_signal_when_the_organization_honors_only_the_law(
    client_rw: APIClient, purposes: dict[str, Purpose], honor_only_where_binding: Organization
) -> None:
    record(client_rw, subject_id="kunde-1", jurisdiction="DE")

    outcome = send_signal(client_rw, "kunde-1")
    status = client_rw.get("/api/v1/subjects/kunde-1/privacy-status").json()

    assert (outcome["honored"], outcome["events_written"], outcome["purposes_opted_out"]) == (False, 0, [])
    assert gpc_events("kunde-1") == []
    assert purpose_state(client_rw, "kunde-1", "ad-sale")["basis"] == "no_consent_on_record"
    assert (status["opt_out_preference_signal"], status["display_text"]) == (
        "received",
        "Opt-Out Preference Signal Received",
    )


@pytest.mark.parametrize("jurisdiction", ["US-CA", "US-CO"])
def test_opt_out_jurisdiction_permits_non_sensitive_purposes_until_an_opt_out(
    client_rw: APIClient, purposes: dict[str, Purpose], jurisdiction: str
) -> None:
    record(client_rw, subject_id="cust-1", jurisdiction=jurisdiction)

    state = {p["purpose"]: (p["permitted"], p["basis"]) for p in consent(client_rw, "cust-1")["purposes"]}

    assert state["ad-sale"] == (True, "no_opt_out_on_record")
    assert state["targeted-ads"] == (True, "no_opt_out_on_record")
    assert state["health-data"] == (False, "no_consent_on_record")


@pytest.mark.parametrize("jurisdiction", ["US-CA", "US-CO"])
def test_binding_signal_opts_out_of_the_covered_purposes_as_a_legal_duty(
    client_rw: APIClient, purposes: dict[str, Purpose], honor_only_where_binding: Organization, jurisdiction: str
) -> None:
    outcome = send_signal(client_rw, "visitor-1", jurisdiction=jurisdiction)
    state = {p["purpose"]: (p["permitted"], p["basis"]) for p in consent(client_rw, "visitor-1")["purposes"]}

    assert outcome == {
        "subject_id": "visitor-1",
        "gpc": True,
        "honored": True,
        "legally_required": True,
        "jurisdiction": jurisdiction,
        "purposes_opted_out": COVERED,
        "events_written": 2,
        "subjects": ["visitor-1"],
    }
    assert state["ad-sale"] == state["targeted-ads"] == (False, "gpc_opt_out")
    assert state["newsletter"] == (True, "no_opt_out_on_record")
    assert state["health-data"] == (False, "no_consent_on_record")


@pytest.mark.parametrize("jurisdiction", ["US-VA", "US-WY"])
@pytest.mark.parametrize("honor_everywhere", [True, False])
def test_opt_out_jurisdiction_without_a_binding_signal_honors_it_only_by_choice(
    client_rw: APIClient,
    organization: Organization,
    purposes: dict[str, Purpose],
    jurisdiction: str,
    honor_everywhere: bool,
) -> None:
    consent_services.organization_gpc_settings_update(
        organization=organization, honor_everywhere=honor_everywhere, actor="test"
    )

    outcome = send_signal(client_rw, "visitor-1", jurisdiction=jurisdiction)

    assert (outcome["honored"], outcome["legally_required"]) == (honor_everywhere, False)
    assert len(gpc_events("visitor-1")) == (2 if honor_everywhere else 0)


def test_unknown_jurisdiction_falls_back_to_opt_in(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    record(client_rw, subject_id="cliente-1", jurisdiction="JP")

    state = {p["purpose"]: (p["permitted"], p["basis"]) for p in consent(client_rw, "cliente-1")["purposes"]}

    assert jurisdiction_rules().rule_for("JP").code == "*"
    assert state["ad-sale"] == (False, "no_consent_on_record")
    assert state["newsletter"] == (True, "explicit_opt_in")


def test_a_signal_on_a_denied_call_changes_nothing(
    client_rw: APIClient,
    organization: Organization,
    purposes: dict[str, Purpose],
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
) -> None:
    record(client_rw, subject_id="cust-1")
    write_only = api_client_for(organization, "consent:write")
    other_organizations = api_client_for(other_organization, "consent:read")
    before = row_counts()

    no_key = APIClient().get("/api/v1/subjects/cust-1/consent", **gpc("1"))
    wrong_scope = write_only.get("/api/v1/subjects/cust-1/consent", **gpc("1"))
    other = other_organizations.get("/api/v1/subjects/cust-1/consent", **gpc("1"))

    assert (no_key.status_code, wrong_scope.status_code, other.status_code) == (401, 403, 404)
    assert row_counts() == before
    assert not GpcSignalReceipt.objects.exists()


def test_signal_for_a_new_subject_without_a_jurisdiction_is_refused_and_changes_nothing(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    before = row_counts()

    response = client_rw.post(SIGNALS, {"subject_id": "stranger", "gpc": True}, format="json")

    body = assert_problem(response, 422, "validation-error")
    assert {e["pointer"] for e in body["errors"]} == {"/jurisdiction"}
    assert row_counts() == before


def test_absence_of_the_signal_is_never_an_opt_in(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    record(client_rw, gpc("1"), subject_id="cust-1", purpose="ad-sale", action="grant")
    before = row_counts()

    reported_off = client_rw.post(SIGNALS, {"subject_id": "cust-1", "gpc": False}, format="json")
    plain_read = consent(client_rw, "cust-1")

    assert reported_off.status_code == 200
    assert (reported_off.json()["gpc"], reported_off.json()["honored"]) == (False, False)
    assert row_counts() == before
    assert [p["basis"] for p in plain_read["purposes"] if p["purpose"] in COVERED] == ["gpc_opt_out"] * 2


# --------------------------------------------------------------------------------------------
# Conflict and re-confirmation (A10)
# --------------------------------------------------------------------------------------------


def test_signal_after_an_opt_in_withdraws_it_and_reports_the_conflict(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1", purpose="ad-sale")

    send_signal(client_rw, "cust-1")
    sale = purpose_state(client_rw, "cust-1", "ad-sale")

    assert (sale["status"], sale["permitted"], sale["basis"], sale["gpc_conflict"]) == (
        "withdrawn",
        False,
        "gpc_opt_out",
        True,
    )


def test_opt_in_sent_together_with_the_signal_is_overridden_by_it(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    created = record(client_rw, gpc("1"), subject_id="cust-1", purpose="ad-sale").json()

    assert (created["action"], created["consent"]["basis"], created["consent"]["gpc_conflict"]) == (
        "grant",
        "gpc_opt_out",
        True,
    )


def test_consent_at_a_past_instant_shows_the_state_before_and_after_the_signal(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    granted_at, signalled_at = timezone.now() - timedelta(hours=2), timezone.now() - timedelta(hours=1)
    record(client_rw, subject_id="cust-1", purpose="ad-sale", occurred_at=granted_at.isoformat())
    send_signal(client_rw, "cust-1", occurred_at=signalled_at.isoformat())

    def sale_at(moment: datetime) -> dict[str, Any]:
        query = moment.isoformat().replace("+00:00", "Z")
        response = client_rw.get(f"/api/v1/subjects/cust-1/consent?purpose=ad-sale&at={query}")
        return response.json()["purposes"][0]  # type: ignore[no-any-return]

    before, after = sale_at(signalled_at - timedelta(minutes=1)), sale_at(signalled_at + timedelta(minutes=1))

    assert (before["permitted"], before["basis"], before["gpc_conflict"]) == (True, "explicit_opt_in", False)
    assert (after["permitted"], after["basis"], after["gpc_conflict"]) == (False, "gpc_opt_out", True)


def test_a_later_plain_grant_does_not_re_permit(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    record(client_rw, subject_id="cust-1", purpose="ad-sale", occurred_at=ago(minutes=10))
    send_signal(client_rw, "cust-1", occurred_at=ago(minutes=5))

    created = record(client_rw, subject_id="cust-1", purpose="ad-sale", subject_email="ana@example.com").json()

    assert created["lifts_gpc_opt_out"] is False
    assert (created["consent"]["permitted"], created["consent"]["basis"]) == (False, "gpc_opt_out")
    assert purpose_state(client_rw, "cust-1", "ad-sale")["gpc_conflict"] is True


@pytest.mark.parametrize("jurisdiction", ["US-CA", "US-CO"])
def test_a_confirmed_grant_of_a_known_person_after_the_signal_re_permits(
    client_rw: APIClient, purposes: dict[str, Purpose], jurisdiction: str
) -> None:
    record(client_rw, subject_id="cust-1", purpose="ad-sale", jurisdiction=jurisdiction, occurred_at=ago(minutes=10))
    send_signal(client_rw, "cust-1", occurred_at=ago(minutes=5))

    # Through a non-interstitial flow, with the signal still present (A10).
    created = record(
        client_rw,
        gpc("1"),
        subject_id="cust-1",
        purpose="ad-sale",
        jurisdiction=jurisdiction,
        explicit_confirmation=True,
        subject_email="ana@example.com",
    ).json()
    later = consent(client_rw, "cust-1", gpc("1"))

    assert created["lifts_gpc_opt_out"] is True
    assert (created["consent"]["status"], created["consent"]["permitted"], created["consent"]["basis"]) == (
        "renewed",
        True,
        "explicit_opt_in",
    )
    sale = next(p for p in later["purposes"] if p["purpose"] == "ad-sale")
    assert (sale["permitted"], sale["basis"], sale["gpc_conflict"]) == (True, "explicit_opt_in", False)
    assert next(p for p in later["purposes"] if p["purpose"] == "targeted-ads")["basis"] == "gpc_opt_out"


@pytest.mark.parametrize(
    ("jurisdiction", "email"),
    [("US-CA", None), ("US-CO", None), ("US-CT", "ana@example.com")],
    ids=["CA-unknown-person", "CO-unknown-person", "CT-known-person"],
)
def test_a_confirmed_grant_after_the_signal_does_not_re_permit_for_an_unknown_person_or_in_connecticut(
    client_rw: APIClient, purposes: dict[str, Purpose], jurisdiction: str, email: str | None
) -> None:
    send_signal(client_rw, "cust-1", jurisdiction=jurisdiction, occurred_at=ago(minutes=5))

    created = record(
        client_rw,
        subject_id="cust-1",
        purpose="ad-sale",
        jurisdiction=jurisdiction,
        explicit_confirmation=True,
        subject_email=email,
    ).json()

    assert created["lifts_gpc_opt_out"] is False
    assert (created["consent"]["permitted"], created["consent"]["basis"]) == (False, "gpc_opt_out")


def test_a_later_request_without_the_signal_never_re_permits(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, gpc("1"), subject_id="cust-1", purpose="ad-sale", occurred_at=ago(minutes=10))

    record(client_rw, subject_id="cust-1", purpose="newsletter")
    consent(client_rw, "cust-1", gpc("0"))
    client_rw.get("/api/v1/subjects/cust-1/privacy-status")

    sale = purpose_state(client_rw, "cust-1", "ad-sale")
    assert (sale["permitted"], sale["basis"], sale["gpc_conflict"]) == (False, "gpc_opt_out", True)
    assert gpc_events("cust-1") == [("ad-sale", "withdraw"), ("targeted-ads", "refuse")]


# --------------------------------------------------------------------------------------------
# Idempotence
# --------------------------------------------------------------------------------------------


def test_a_hundred_requests_carrying_the_signal_make_one_opt_out_per_covered_purpose(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1")
    for n in range(100):
        if n % 2:
            consent(client_rw, "cust-1", gpc("1"))
        else:
            record(client_rw, gpc("1"), subject_id="cust-1")

    assert gpc_events("cust-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert GpcSignalReceipt.objects.filter(subject__external_id="cust-1").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_carrying_the_signal_make_one_opt_out_per_covered_purpose(
    organization: Organization, purposes: dict[str, Purpose], api_client_for: Callable[..., APIClient]
) -> None:
    consent_services.consent_record(
        organization=organization,
        item=consent_services.ConsentEventInput(
            subject_id="cust-1",
            purpose="newsletter",
            action="grant",
            occurred_at=timezone.now() - timedelta(minutes=1),
            source="web-signup",
            collection_method="web_form",
            jurisdiction="US-CA",
        ),
    )
    threads = 10
    clients = [api_client_for(organization, "consent:read", "consent:write") for _ in range(threads)]
    statuses: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads, timeout=30)

    def browse(client: APIClient) -> None:
        try:
            start.wait()
            for _ in range(4):
                statuses.append(client.get("/api/v1/subjects/cust-1/consent", **gpc("1")).status_code)
                statuses.append(client.post(SIGNALS, {"subject_id": "cust-1", "gpc": True}, format="json").status_code)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=browse, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert statuses == [200] * threads * 8
    assert gpc_events("cust-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert GpcSignalReceipt.objects.count() == 1


# --------------------------------------------------------------------------------------------
# Links
# --------------------------------------------------------------------------------------------


def link(client: APIClient, subject_id: str, other: str) -> Any:
    return client.post(f"/api/v1/subjects/{subject_id}/links", {"subject_id": other}, format="json")


def test_signal_on_a_device_applies_to_the_linked_person_and_to_a_device_linked_afterwards(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="person-1", purpose="ad-sale")
    linked = link(client_rw, "person-1", "device-1")
    assert (linked.status_code, linked.json()) == (
        201,
        {"subject_id": "person-1", "linked_subjects": ["device-1", "person-1"]},
    )

    outcome = send_signal(client_rw, "device-1", jurisdiction="US-CA")

    assert (outcome["subjects"], outcome["events_written"]) == (["device-1", "person-1"], 4)
    person = purpose_state(client_rw, "person-1", "ad-sale")
    assert (person["basis"], person["gpc_conflict"]) == ("gpc_opt_out", True)

    later = link(client_rw, "person-1", "device-2")

    assert later.json()["linked_subjects"] == ["device-1", "device-2", "person-1"]
    assert gpc_events("device-2") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert [p["basis"] for p in consent(client_rw, "device-2")["purposes"] if p["purpose"] in COVERED] == [
        "gpc_opt_out"
    ] * 2
    listed = client_rw.get("/api/v1/subjects/device-2/links").json()
    assert listed == {"subject_id": "device-2", "linked_subjects": ["device-1", "device-2", "person-1"]}
    status = client_rw.get("/api/v1/subjects/device-2/privacy-status").json()
    assert (status["opt_out_preference_signal"], status["legally_required"]) == ("honored", True)


def test_links_of_an_unlinked_subject_list_only_itself_and_an_unknown_subject_is_not_found(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1")

    assert client_rw.get("/api/v1/subjects/cust-1/links").json()["linked_subjects"] == ["cust-1"]
    assert_problem(client_rw.get("/api/v1/subjects/nobody/links"), 404, "not-found")


def test_a_subject_cannot_be_linked_to_itself(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    before = row_counts()

    assert_problem(link(client_rw, "cust-1", "cust-1"), 422, "validation-error")
    assert row_counts() == before


def test_another_organizations_link_names_its_own_subjects_and_leaves_ours_alone(
    client_rw: APIClient,
    purposes: dict[str, Purpose],
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
) -> None:
    record(client_rw, subject_id="cust-1")
    other = api_client_for(other_organization, "consent:read", "consent:write")

    response = link(other, "cust-1", "device-1")

    assert response.status_code == 201
    assert client_rw.get("/api/v1/subjects/cust-1/links").json()["linked_subjects"] == ["cust-1"]
    assert_problem(client_rw.get("/api/v1/subjects/device-1/links"), 404, "not-found")
    assert Subject.objects.filter(organization=other_organization).count() == 2


# --------------------------------------------------------------------------------------------
# Privacy status (CCPA regs §7025(c)(6))
# --------------------------------------------------------------------------------------------


def test_privacy_status_without_a_signal_is_not_received(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    record(client_rw, subject_id="cust-1")

    status = client_rw.get("/api/v1/subjects/cust-1/privacy-status").json()

    assert status == {
        "subject_id": "cust-1",
        "opt_out_preference_signal": "not_received",
        "signal_received": False,
        "received_at": None,
        "last_received_at": None,
        "honored": False,
        "honored_at": None,
        "legally_required": False,
        "purposes_opted_out": [],
        "display_text": None,
        "gpc_signal_on_read": None,
    }


def test_privacy_status_after_the_signal_was_sent_shows_it_honored(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1")
    send_signal(client_rw, "cust-1")

    status = client_rw.get("/api/v1/subjects/cust-1/privacy-status", **gpc("1")).json()

    assert status["opt_out_preference_signal"] == "honored"
    assert status["display_text"] == "Opt-Out Request Honored"
    assert (status["honored"], status["legally_required"], status["purposes_opted_out"]) == (True, True, COVERED)
    assert status["received_at"] == status["honored_at"] is not None


def test_privacy_status_of_a_voluntarily_honored_signal_is_not_legally_required(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    send_signal(client_rw, "visitor-1", jurisdiction="US-VA")

    status = client_rw.get("/api/v1/subjects/visitor-1/privacy-status").json()

    assert (status["opt_out_preference_signal"], status["legally_required"]) == ("honored", False)


def test_privacy_status_of_an_unknown_subject_is_not_found(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    assert_problem(client_rw.get("/api/v1/subjects/nobody/privacy-status", **gpc("1")), 404, "not-found")
    assert not Subject.objects.exists()


# --------------------------------------------------------------------------------------------
# Re-solicitation window (Cal. Civ. Code §1798.135; A15)
# --------------------------------------------------------------------------------------------


def solicitation(client: APIClient, subject_id: str, purpose: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/subjects/{subject_id}/solicitation?purpose={purpose}")
    assert response.status_code == 200, response.content[:500]
    return response.json()  # type: ignore[no-any-return]


def opt_out_on(organization: Organization, subject_id: str, day: date, jurisdiction: str = "US-CA") -> None:
    consent_services.gpc_signal_record(
        organization=organization, subject_id=subject_id, channel="javascript", jurisdiction=jurisdiction, now=noon(day)
    )


def test_no_opt_in_may_be_solicited_within_twelve_months_of_a_california_opt_out(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    send_signal(client_rw, "cust-1", jurisdiction="US-CA")
    today = timezone.localdate()

    answer = solicitation(client_rw, "cust-1", "ad-sale")

    assert answer["may_solicit"] is False
    assert answer["reason"] == "within_resolicitation_window"
    assert answer["earliest"] == add_months(today, 12).isoformat()
    assert "12 months" in answer["rule"]


def test_opt_in_may_be_solicited_again_from_the_same_date_a_year_later(
    client_rw: APIClient, organization: Organization, purposes: dict[str, Purpose]
) -> None:
    today = timezone.localdate()
    a_year_ago = add_months(today, -12)
    opt_out_on(organization, "on-the-boundary", a_year_ago)
    opt_out_on(organization, "a-day-short", a_year_ago + timedelta(days=1))
    opt_out_on(organization, "long-ago", a_year_ago - timedelta(days=45))

    boundary = solicitation(client_rw, "on-the-boundary", "ad-sale")
    short = solicitation(client_rw, "a-day-short", "ad-sale")
    long_ago = solicitation(client_rw, "long-ago", "ad-sale")

    assert (boundary["may_solicit"], boundary["earliest"]) == (True, add_months(a_year_ago, 12).isoformat())
    assert (short["may_solicit"], short["earliest"]) == (
        False,
        add_months(a_year_ago + timedelta(days=1), 12).isoformat(),
    )
    assert (long_ago["may_solicit"], long_ago["reason"]) == (True, "allowed")


def test_a_person_already_opted_in_is_not_asked_again(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    record(client_rw, subject_id="cust-1", purpose="ad-sale")

    answer = solicitation(client_rw, "cust-1", "ad-sale")

    assert (answer["may_solicit"], answer["reason"], answer["earliest"]) == (False, "already_opted_in", None)


def test_a_purpose_without_sale_or_sharing_may_always_be_solicited(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, gpc("1"), subject_id="cust-1", purpose="newsletter", action="refuse")

    answer = solicitation(client_rw, "cust-1", "newsletter")

    assert (answer["may_solicit"], answer["reason"], answer["rule"]) == (True, "allowed", None)
    assert solicitation(client_rw, "cust-1", "ad-sale")["may_solicit"] is False


def test_solicitation_needs_a_known_purpose(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    record(client_rw, subject_id="cust-1")

    assert_problem(client_rw.get("/api/v1/subjects/cust-1/solicitation"), 422, "validation-error")
    assert_problem(client_rw.get("/api/v1/subjects/cust-1/solicitation?purpose=nope"), 422, "validation-error")


# --------------------------------------------------------------------------------------------
# /.well-known/gpc.json
# --------------------------------------------------------------------------------------------


def well_known(host: str = "testserver") -> Any:
    return APIClient().get(WELL_KNOWN, HTTP_HOST=host)


def test_gpc_support_resource_is_public_json_with_an_rfc3339_last_update(db: Any, settings: Any) -> None:
    settings.PROVENANT_GPC_LAST_UPDATE = None

    response = well_known()

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"gpc", "lastUpdate"}
    assert body["gpc"] is True
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["lastUpdate"])
    assert body["lastUpdate"] == jurisdiction_rules().gpc_last_update.isoformat()


def test_deployment_last_update_comes_from_the_setting(db: Any, settings: Any) -> None:
    settings.PROVENANT_GPC_LAST_UPDATE = "2025-04-15"

    assert well_known().json() == {"gpc": True, "lastUpdate": "2025-04-15"}


def test_each_organization_answers_for_its_own_site(
    organization: Organization, other_organization: Organization, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "shop.acme.example", "globex.example"]
    settings.PROVENANT_GPC_LAST_UPDATE = "2025-04-15"
    Organization.objects.filter(pk=organization.pk).update(
        site_domain="shop.acme.example", gpc_settings_updated_at=date(2025, 9, 1)
    )
    Organization.objects.filter(pk=other_organization.pk).update(
        site_domain="globex.example", gpc_settings_updated_at=date(2024, 1, 2)
    )

    assert well_known("shop.acme.example").json()["lastUpdate"] == "2025-09-01"
    assert well_known("SHOP.ACME.EXAMPLE").json()["lastUpdate"] == "2025-09-01"
    assert well_known("globex.example:8443").json()["lastUpdate"] == "2024-01-02"
    assert well_known("testserver").json()["lastUpdate"] == "2025-04-15"


def test_last_update_moves_when_the_organization_changes_its_gpc_settings(
    organization: Organization, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "shop.acme.example"]
    Organization.objects.filter(pk=organization.pk).update(
        site_domain="shop.acme.example", gpc_settings_updated_at=date(2025, 9, 1)
    )
    organization.refresh_from_db()
    assert well_known("shop.acme.example").json()["lastUpdate"] == "2025-09-01"

    consent_services.organization_gpc_settings_update(organization=organization, honor_everywhere=False, actor="t")

    assert well_known("shop.acme.example").json() == {"gpc": True, "lastUpdate": timezone.localdate().isoformat()}


def test_gpc_support_resource_is_documented_without_authentication(db: Any) -> None:
    schema = APIClient().get("/api/schema/?format=json").json()

    operation = schema["paths"][WELL_KNOWN]["get"]
    assert operation.get("security", []) in ([], [{}])
    assert set(schema["components"]["schemas"]["GpcWellKnown"]["properties"]) == {"gpc", "lastUpdate"}


# --------------------------------------------------------------------------------------------
# IAB strings in the consent state of US subjects
# --------------------------------------------------------------------------------------------


def test_california_opt_out_by_gpc_is_carried_in_us_privacy_and_gpp_with_the_gpc_sub_section(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1")
    send_signal(client_rw, "cust-1")

    state = consent(client_rw, "cust-1", gpc("1"))

    assert state["gpc_honored"] is True
    assert state["iab"]["us_privacy"] == "1YYN"
    assert state["iab"]["gpp_sid"] == [iab.USCA_SECTION_ID]
    usca = iab.decode_gpp_usca(state["iab"]["gpp"])
    assert (usca.sale_opt_out, usca.sharing_opt_out, usca.gpc) == (1, 1, True)
    assert (usca.sale_opt_out_notice, usca.sharing_opt_out_notice) == (1, 1)


def test_california_subject_without_an_opt_out_is_not_opted_out_in_the_iab_strings(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1", purpose="ad-sale")

    signals = consent(client_rw, "cust-1")["iab"]

    assert signals["us_privacy"] == "1YNN"
    usca = iab.decode_gpp_usca(signals["gpp"])
    assert (usca.sale_opt_out, usca.sharing_opt_out, usca.gpc) == (2, 2, False)


def test_california_opt_out_without_gpc_sets_the_opt_out_but_not_the_gpc_bit(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1", purpose="ad-sale", action="refuse")

    signals = consent(client_rw, "cust-1")["iab"]

    assert signals["us_privacy"] == "1YYN"
    usca = iab.decode_gpp_usca(signals["gpp"])
    assert (usca.sale_opt_out, usca.gpc) == (1, False)


def test_gpp_passes_along_a_signal_that_is_present_even_after_the_person_re_confirmed(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    """IAB California spec: "check whether GPC is set and pass along the value"."""
    record(client_rw, gpc("1"), subject_id="cust-1", occurred_at=ago(minutes=10))
    for purpose in COVERED:
        record(
            client_rw,
            gpc("1"),
            subject_id="cust-1",
            purpose=purpose,
            explicit_confirmation=True,
            subject_email="ana@example.com",
            occurred_at=ago(seconds=0),
        )

    signals = consent(client_rw, "cust-1", gpc("1"))["iab"]

    usca = iab.decode_gpp_usca(signals["gpp"])
    assert (usca.sale_opt_out, usca.sharing_opt_out) == (2, 2)
    assert usca.gpc is True


@pytest.mark.parametrize("jurisdiction", ["US-VA", "US-CO"])
def test_opt_out_by_gpc_in_a_state_with_a_privacy_law_is_carried_in_gpp_with_the_usnat_section(
    client_rw: APIClient, purposes: dict[str, Purpose], jurisdiction: str
) -> None:
    record(client_rw, subject_id="cust-1", jurisdiction=jurisdiction)
    send_signal(client_rw, "cust-1")

    state = consent(client_rw, "cust-1", gpc("1"))

    assert state["gpc_honored"] is True
    assert state["iab"]["us_privacy"] == "1---"  # the US Privacy string is a CCPA signal
    assert state["iab"]["gpp_sid"] == [iab.USNAT_SECTION_ID]
    usnat = iab.decode_gpp_usnat(state["iab"]["gpp"])
    assert (usnat.sale_opt_out, usnat.sharing_opt_out, usnat.targeted_advertising_opt_out) == (1, 1, 1)
    assert usnat.gpc is True
    assert (usnat.sale_opt_out_notice, usnat.sharing_opt_out_notice, usnat.targeted_advertising_opt_out_notice) == (
        1,
        1,
        1,
    )
    assert usnat.sensitive_data_processing == (0,) * iab.USNAT_SENSITIVE_DATA_CATEGORIES
    assert usnat.mspa_covered_transaction == 2


@pytest.mark.parametrize("jurisdiction", ["US-VA", "US-CO", "US-TX"])
def test_opt_out_of_a_sale_purpose_in_a_state_with_a_privacy_law_sets_sale_opt_out_in_usnat(
    client_rw: APIClient, purposes: dict[str, Purpose], jurisdiction: str
) -> None:
    record(client_rw, subject_id="cust-1", jurisdiction=jurisdiction, purpose="ad-sale", action="refuse")

    signals = consent(client_rw, "cust-1")["iab"]

    assert signals["gpp_sid"] == [7]
    usnat = iab.decode_gpp_usnat(signals["gpp"])
    # A sale purpose is sale and sharing; targeted advertising is a purpose of its own, still not opted out
    assert (usnat.sale_opt_out, usnat.sharing_opt_out, usnat.targeted_advertising_opt_out) == (1, 1, 2)
    assert usnat.gpc is False


def test_opt_out_of_targeted_advertising_in_a_state_with_a_privacy_law_sets_only_that_and_sharing(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1", jurisdiction="US-CT", purpose="targeted-ads", action="refuse")

    usnat = iab.decode_gpp_usnat(consent(client_rw, "cust-1")["iab"]["gpp"])

    assert (usnat.sale_opt_out, usnat.sharing_opt_out, usnat.targeted_advertising_opt_out) == (2, 1, 1)


def test_subject_in_a_state_with_a_privacy_law_without_an_opt_out_is_not_opted_out_in_usnat(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    record(client_rw, subject_id="cust-1", jurisdiction="US-VA", purpose="ad-sale")

    signals = consent(client_rw, "cust-1")["iab"]

    assert signals["us_privacy"] == "1---"
    usnat = iab.decode_gpp_usnat(signals["gpp"])
    assert (usnat.sale_opt_out, usnat.sharing_opt_out, usnat.targeted_advertising_opt_out, usnat.gpc) == (
        2,
        2,
        2,
        False,
    )


def test_every_us_state_in_the_rule_table_but_california_gets_usnat(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    states = [rule.code for rule in jurisdiction_rules() if rule.code.startswith("US-") and rule.code != "US-CA"]
    assert "US-VA" in states
    for index, jurisdiction in enumerate(states):
        record(client_rw, subject_id=f"cust-{index}", jurisdiction=jurisdiction)

        assert consent(client_rw, f"cust-{index}")["iab"]["gpp_sid"] == [7], jurisdiction


@pytest.mark.parametrize("jurisdiction", ["US", "US-WA", "US-NY"])
def test_us_subject_without_a_state_privacy_law_gets_no_gpp(
    client_rw: APIClient, purposes: dict[str, Purpose], jurisdiction: str
) -> None:
    assert jurisdiction_rules().rule_for(jurisdiction).code == "US"
    record(client_rw, subject_id="cust-1", jurisdiction=jurisdiction)

    assert consent(client_rw, "cust-1", gpc("1"))["iab"] == {"us_privacy": "1---", "gpp": None, "gpp_sid": []}


def test_subject_outside_the_us_gets_no_iab_strings(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    record(client_rw, subject_id="kunde-1", jurisdiction="DE")

    assert consent(client_rw, "kunde-1", gpc("1"))["iab"] is None
