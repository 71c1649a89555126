"""Honoring Global Privacy Control in the services: the opt-out events a signal writes per jurisdiction
and date, the receipt kept as evidence, idempotence (also under concurrent writers), links between
subjects, re-confirmation over the signal (A10) and the organization's honor-everywhere switch."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connections
from django.utils import timezone

from consent import services
from consent.enums import GpcChannel
from consent.models import (
    CollectionMethod,
    ConsentEvent,
    GpcSignalReceipt,
    Purpose,
    Source,
    Subject,
    SubjectLink,
)
from consent.selectors import (
    PurposeConsent,
    consent_state_for_subject,
    ledger_integrity_report,
    linked_subject_ids,
    privacy_status,
)
from core.models import AuditLogEntry, Organization
from core.problems import InvalidInput
from tests.conftest import event_input

COVERED = ["ad-sale", "targeted-ads"]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# REGULATORY.md 2.3 and 1(c): the first day each state's universal opt-out obligation applies.
BINDING_FROM = [
    ("US-CO", date(2024, 7, 1)),
    ("US-CT", date(2025, 1, 1)),
    ("US-TX", date(2025, 1, 1)),
    ("US-MT", date(2025, 1, 1)),
    ("US-NJ", date(2025, 7, 15)),
    ("US-OR", date(2026, 1, 1)),
]


@pytest.fixture
def purposes(organization: Organization, source: Source) -> dict[str, Purpose]:
    """A sale purpose, a targeted-advertising purpose, and two a signal never touches."""
    specs = {
        "ad-sale": {"is_sale_or_sharing": True},
        "targeted-ads": {"is_targeted_advertising": True},
        "newsletter": {},
        "health-data": {"is_sensitive": True},
    }
    return {
        key: services.purpose_create(organization=organization, actor="test", key=key, name=key, **flags)
        for key, flags in specs.items()
    }


@pytest.fixture
def honor_only_where_binding(organization: Organization) -> Organization:
    return services.organization_gpc_settings_update(organization=organization, honor_everywhere=False, actor="test")


def gpc_events(organization: Organization, subject_id: str) -> list[tuple[str, str]]:
    """(purpose, action) of the opt-outs recorded from GPC signals for one subject."""
    return sorted(
        ConsentEvent.objects.filter(
            organization=organization,
            subject__external_id=subject_id,
            collection_method=CollectionMethod.GPC_SIGNAL,
        ).values_list("purpose__key", "action")
    )


def states(organization: Organization, subject_id: str) -> dict[str, PurposeConsent]:
    subject = Subject.objects.get(organization=organization, external_id=subject_id)
    return {s.purpose: s for s in consent_state_for_subject(organization=organization, subject=subject)}


def signal(organization: Organization, subject_id: str, jurisdiction: str | None = None, **kwargs: object) -> object:
    return services.gpc_signal_record(
        organization=organization,
        subject_id=subject_id,
        channel=GpcChannel.JAVASCRIPT,
        jurisdiction=jurisdiction,
        **kwargs,  # type: ignore[arg-type]
    )


def receipt(organization: Organization, subject_id: str) -> GpcSignalReceipt:
    return GpcSignalReceipt.objects.get(organization=organization, subject__external_id=subject_id)


# --------------------------------------------------------------------------------------------
# What a signal writes, per jurisdiction class
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jurisdiction", ["US-CA", "US-CO"])
def test_binding_signal_refuses_each_covered_purpose_and_leaves_the_others_alone(
    organization: Organization, purposes: dict[str, Purpose], honor_only_where_binding: Organization, jurisdiction: str
) -> None:
    outcome = signal(honor_only_where_binding, "visitor-1", jurisdiction)

    assert isinstance(outcome, services.GpcOutcome)
    assert outcome.decision.is_honored
    assert outcome.decision.is_legally_required
    assert outcome.purposes == COVERED
    assert outcome.events_written == 2
    assert gpc_events(organization, "visitor-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    current = states(organization, "visitor-1")
    for key in COVERED:
        assert (current[key].status, current[key].permitted, current[key].basis) == ("refused", False, "gpc_opt_out")
    # An opt-out regime: what the signal does not cover stays permitted unless it is sensitive.
    assert (current["newsletter"].permitted, current["newsletter"].basis) == (True, "no_opt_out_on_record")
    assert (current["health-data"].permitted, current["health-data"].basis) == (False, "no_consent_on_record")
    stored = receipt(organization, "visitor-1")
    assert (stored.is_honored, stored.is_legally_required, stored.purposes_opted_out) == (True, True, COVERED)
    assert stored.jurisdiction == jurisdiction


def test_gpc_events_are_written_by_the_builtin_gpc_source_and_keep_the_ledger_verifiable(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    signal(organization, "visitor-1", "US-CA")

    events = ConsentEvent.objects.filter(subject__external_id="visitor-1")
    assert {(e.source.key, e.gpc, e.jurisdiction) for e in events} == {("gpc", True, "US-CA")}
    assert ledger_integrity_report(organization=organization).is_valid


@pytest.mark.parametrize(("jurisdiction", "start"), BINDING_FROM)
def test_signal_before_the_states_obligation_starts_is_received_but_not_honored(
    organization: Organization,
    purposes: dict[str, Purpose],
    honor_only_where_binding: Organization,
    jurisdiction: str,
    start: date,
) -> None:
    day_before = datetime.combine(start - timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)

    outcome = signal(honor_only_where_binding, "early", jurisdiction, now=day_before)

    assert isinstance(outcome, services.GpcOutcome)
    assert (outcome.decision.is_honored, outcome.decision.is_legally_required, outcome.events_written) == (
        False,
        False,
        0,
    )
    assert gpc_events(organization, "early") == []
    stored = receipt(organization, "early")
    assert (stored.is_honored, stored.is_legally_required, stored.first_received_at) == (False, False, day_before)


@pytest.mark.parametrize(("jurisdiction", "start"), BINDING_FROM)
def test_signal_from_the_first_day_of_the_states_obligation_is_honored_as_a_legal_duty(
    organization: Organization,
    purposes: dict[str, Purpose],
    honor_only_where_binding: Organization,
    jurisdiction: str,
    start: date,
) -> None:
    first_day = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)

    outcome = signal(honor_only_where_binding, "on-time", jurisdiction, now=first_day)

    assert isinstance(outcome, services.GpcOutcome)
    assert (outcome.decision.is_honored, outcome.decision.is_legally_required, outcome.events_written) == (
        True,
        True,
        2,
    )
    assert gpc_events(organization, "on-time") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert set(ConsentEvent.objects.filter(subject__external_id="on-time").values_list("occurred_at", flat=True)) == {
        first_day
    }
    stored = receipt(organization, "on-time")
    assert (stored.is_honored, stored.is_legally_required, stored.honored_at) == (True, True, first_day)


def test_a_signal_received_before_and_again_after_the_start_becomes_a_legal_duty_on_the_first_day(
    organization: Organization, purposes: dict[str, Purpose], honor_only_where_binding: Organization
) -> None:
    evening_before = datetime(2024, 6, 30, 23, 0, tzinfo=UTC)
    morning_of = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)
    signal(honor_only_where_binding, "visitor-co", "US-CO", now=evening_before)

    signal(honor_only_where_binding, "visitor-co", "US-CO", now=morning_of)

    stored = receipt(organization, "visitor-co")
    assert (stored.first_received_at, stored.honored_at, stored.last_received_at) == (
        evening_before,
        morning_of,
        morning_of,
    )
    assert (stored.is_honored, stored.is_legally_required, stored.purposes_opted_out) == (True, True, COVERED)
    assert gpc_events(organization, "visitor-co") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]


@pytest.mark.parametrize("jurisdiction", ["US-VA", "US-WY"])
def test_where_no_law_binds_the_signal_is_honored_voluntarily_when_the_organization_honors_it_everywhere(
    organization: Organization, purposes: dict[str, Purpose], jurisdiction: str
) -> None:
    outcome = signal(organization, "visitor-1", jurisdiction)

    assert isinstance(outcome, services.GpcOutcome)
    assert (outcome.decision.is_honored, outcome.decision.is_legally_required) == (True, False)
    assert gpc_events(organization, "visitor-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert receipt(organization, "visitor-1").is_legally_required is False


@pytest.mark.parametrize("jurisdiction", ["US-VA", "US-WY", "DE", "JP"])
def test_where_no_law_binds_the_signal_is_not_applied_when_the_organization_honors_only_the_law(
    organization: Organization, purposes: dict[str, Purpose], honor_only_where_binding: Organization, jurisdiction: str
) -> None:
    outcome = signal(honor_only_where_binding, "visitor-1", jurisdiction)

    assert isinstance(outcome, services.GpcOutcome)
    assert (outcome.decision.is_honored, outcome.events_written) == (False, 0)
    assert gpc_events(organization, "visitor-1") == []
    assert receipt(organization, "visitor-1").is_honored is False


def test_in_germany_the_signal_is_honored_voluntarily_as_a_refusal_of_sale_and_advertising(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    # A11: honor it, record it as refuse/withdraw for sale/sharing/advertising, legal_requirement=false.
    services.consent_record(organization=organization, item=event_input(subject_id="kunde-1", purpose="newsletter"))

    outcome = signal(organization, "kunde-1")

    assert isinstance(outcome, services.GpcOutcome)
    assert (outcome.decision.jurisdiction, outcome.decision.is_legally_required) == ("DE", False)
    current = states(organization, "kunde-1")
    assert (current["ad-sale"].basis, current["targeted-ads"].basis) == ("gpc_opt_out", "gpc_opt_out")
    assert (current["newsletter"].status, current["newsletter"].permitted) == ("given", True)
    assert (current["health-data"].permitted, current["health-data"].basis) == (False, "no_consent_on_record")


def test_signal_for_a_subject_whose_jurisdiction_is_unknown_is_not_applied(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    assert signal(organization, "stranger") is None

    assert ConsentEvent.objects.filter(organization=organization).count() == 0
    assert GpcSignalReceipt.objects.count() == 0


def test_signal_uses_the_subjects_last_known_jurisdiction(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    services.consent_record(
        organization=organization, item=event_input(subject_id="cust-1", purpose="newsletter", jurisdiction="US-CA")
    )

    outcome = signal(organization, "cust-1")

    assert isinstance(outcome, services.GpcOutcome)
    assert outcome.decision.jurisdiction == "US-CA"
    assert outcome.decision.is_legally_required


# --------------------------------------------------------------------------------------------
# Conflict with an earlier opt-in, and re-confirmation over the signal (A10)
# --------------------------------------------------------------------------------------------


def grant(organization: Organization, subject_id: str, jurisdiction: str, **overrides: object) -> None:
    services.consent_record(
        organization=organization,
        item=event_input(subject_id=subject_id, purpose="ad-sale", jurisdiction=jurisdiction, **overrides),
    )


def test_signal_over_an_opt_in_withdraws_it_and_flags_the_conflict(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    grant(organization, "cust-1", "US-CA", occurred_at=timezone.now() - timedelta(hours=1))

    signal(organization, "cust-1")

    sale = states(organization, "cust-1")["ad-sale"]
    assert (sale.status, sale.permitted, sale.basis, sale.gpc_conflict) == ("withdrawn", False, "gpc_opt_out", True)
    assert states(organization, "cust-1")["targeted-ads"].gpc_conflict is False
    assert gpc_events(organization, "cust-1") == [("ad-sale", "withdraw"), ("targeted-ads", "refuse")]


@pytest.mark.parametrize("jurisdiction", ["US-CA", "US-CO"])
def test_a_confirmed_grant_of_a_known_person_after_the_signal_re_permits(
    organization: Organization, purposes: dict[str, Purpose], jurisdiction: str
) -> None:
    signal(organization, "cust-1", jurisdiction, occurred_at=timezone.now() - timedelta(hours=1))

    grant(organization, "cust-1", jurisdiction, explicit_confirmation=True, subject_email="Ana@Example.com")

    event = ConsentEvent.objects.filter(subject__external_id="cust-1", action="grant").get()
    assert event.lifts_gpc_opt_out
    sale = states(organization, "cust-1")["ad-sale"]
    assert (sale.permitted, sale.basis, sale.gpc_conflict) == (True, "explicit_opt_in", False)
    # The signal is still sent: it is not applied again over the person's own confirmation.
    assert signal(organization, "cust-1") is not None
    assert states(organization, "cust-1")["ad-sale"].permitted
    assert gpc_events(organization, "cust-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]


@pytest.mark.parametrize(
    ("jurisdiction", "overrides"),
    [
        ("US-CA", {"explicit_confirmation": True}),  # an unknown person
        ("US-CO", {"explicit_confirmation": True}),
        ("US-CA", {"subject_email": "ana@example.com"}),  # known, but not confirmed
        ("US-CT", {"explicit_confirmation": True, "subject_email": "ana@example.com"}),  # binds; no consent after it
    ],
)
def test_a_grant_after_the_signal_does_not_re_permit_otherwise(
    organization: Organization, purposes: dict[str, Purpose], jurisdiction: str, overrides: dict[str, object]
) -> None:
    signal(organization, "cust-1", jurisdiction, occurred_at=timezone.now() - timedelta(hours=1))

    grant(organization, "cust-1", jurisdiction, **overrides)

    assert ConsentEvent.objects.get(subject__external_id="cust-1", action="grant").lifts_gpc_opt_out is False
    sale = states(organization, "cust-1")["ad-sale"]
    assert (sale.status, sale.permitted, sale.basis) == ("refused", False, "gpc_opt_out")


def test_a_confirmed_grant_made_before_any_signal_does_not_shield_the_purpose_from_a_later_signal(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    """A10: the signal prevails over any *earlier* consent, however it was given."""
    grant(
        organization,
        "cust-1",
        "US-CA",
        explicit_confirmation=True,
        subject_email="ana@example.com",
        occurred_at=timezone.now() - timedelta(days=2),
    )

    signal(organization, "cust-1")

    sale = states(organization, "cust-1")["ad-sale"]
    assert (sale.permitted, sale.basis, sale.gpc_conflict) == (False, "gpc_opt_out", True)


def test_a_late_grant_that_occurred_before_the_signal_does_not_undo_it(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    signal(organization, "cust-1", "US-CA", occurred_at=timezone.now() - timedelta(hours=1))

    # Recorded now (offline client), but given two hours ago: before the signal.
    grant(organization, "cust-1", "US-CA", occurred_at=timezone.now() - timedelta(hours=2))

    sale = states(organization, "cust-1")["ad-sale"]
    assert (sale.status, sale.permitted, sale.basis, sale.gpc_conflict) == ("refused", False, "gpc_opt_out", True)


def test_absence_of_the_signal_later_never_counts_as_an_opt_in(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    signal(organization, "cust-1", "US-CO", occurred_at=timezone.now() - timedelta(hours=2))

    # Later activity without the signal: an event for another purpose, a plain grant, a read.
    services.consent_record(
        organization=organization,
        item=event_input(subject_id="cust-1", purpose="newsletter", jurisdiction="US-CO", gpc=False),
    )
    grant(organization, "cust-1", "US-CO")

    current = states(organization, "cust-1")
    assert [(current[k].permitted, current[k].basis) for k in COVERED] == [(False, "gpc_opt_out")] * 2
    subject = Subject.objects.get(external_id="cust-1")
    assert privacy_status(organization=organization, subject=subject).opt_out_preference_signal == "honored"


# --------------------------------------------------------------------------------------------
# Idempotence and the receipt
# --------------------------------------------------------------------------------------------


def test_a_hundred_signals_write_one_opt_out_per_covered_purpose(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    outcomes = [signal(organization, "visitor-1", "US-CA") for _ in range(100)]

    assert gpc_events(organization, "visitor-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert [o.events_written for o in outcomes if isinstance(o, services.GpcOutcome)] == [2] + [0] * 99
    assert GpcSignalReceipt.objects.filter(subject__external_id="visitor-1").count() == 1


def test_receipt_is_refreshed_at_most_hourly_and_keeps_the_first_receipt(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    signal(organization, "visitor-1", "US-CA", now=NOW)
    signal(organization, "visitor-1", "US-CA", now=NOW + timedelta(minutes=30))
    assert receipt(organization, "visitor-1").last_received_at == NOW

    signal(organization, "visitor-1", "US-CA", now=NOW + timedelta(hours=2))

    stored = receipt(organization, "visitor-1")
    assert (stored.first_received_at, stored.last_received_at, stored.honored_at) == (
        NOW,
        NOW + timedelta(hours=2),
        NOW,
    )
    assert len(gpc_events(organization, "visitor-1")) == 2


def test_a_purpose_added_later_is_opted_out_by_the_next_signal(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    signal(organization, "visitor-1", "US-CA")
    services.purpose_create(
        organization=organization, actor="test", key="data-broker", name="Data broker", is_sale_or_sharing=True
    )

    outcome = signal(organization, "visitor-1", "US-CA")

    assert isinstance(outcome, services.GpcOutcome)
    assert outcome.events_written == 1
    assert ("data-broker", "refuse") in gpc_events(organization, "visitor-1")
    assert sorted(receipt(organization, "visitor-1").purposes_opted_out) == ["ad-sale", "data-broker", "targeted-ads"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_signals_for_one_new_subject_write_one_opt_out_per_covered_purpose(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    threads, errors = 12, []
    start = threading.Barrier(threads, timeout=30)

    def send() -> None:
        try:
            start.wait()
            for _ in range(3):
                signal(organization, "visitor-9", "US-CA")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert gpc_events(organization, "visitor-9") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert Subject.objects.filter(external_id="visitor-9").count() == 1
    assert GpcSignalReceipt.objects.filter(subject__external_id="visitor-9").count() == 1
    assert ledger_integrity_report(organization=organization).is_valid


# --------------------------------------------------------------------------------------------
# Links: the signal applies to the device, the linked profiles and the known person
# --------------------------------------------------------------------------------------------


def test_signal_on_a_device_applies_to_the_linked_person(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    grant(organization, "person-1", "US-CA")
    services.subject_link(organization=organization, subject_id="person-1", linked_subject_id="device-1", actor="t")

    outcome = signal(organization, "device-1", "US-CA")

    assert isinstance(outcome, services.GpcOutcome)
    assert outcome.subjects == ["device-1", "person-1"]
    assert gpc_events(organization, "person-1") == [("ad-sale", "withdraw"), ("targeted-ads", "refuse")]
    assert gpc_events(organization, "device-1") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert receipt(organization, "person-1").channel == GpcChannel.LINK
    assert states(organization, "person-1")["ad-sale"].gpc_conflict


def test_a_device_linked_after_the_signal_inherits_the_opt_out(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    services.subject_link(organization=organization, subject_id="person-1", linked_subject_id="device-1", actor="t")
    signal(organization, "device-1", "US-CA")

    cluster = services.subject_link(
        organization=organization, subject_id="device-2", linked_subject_id="person-1", actor="t"
    )

    assert cluster == ["device-1", "device-2", "person-1"]
    assert gpc_events(organization, "device-2") == [("ad-sale", "refuse"), ("targeted-ads", "refuse")]
    assert states(organization, "device-2")["ad-sale"].basis == "gpc_opt_out"
    device_2 = Subject.objects.get(external_id="device-2")
    assert privacy_status(organization=organization, subject=device_2).honored
    assert linked_subject_ids(organization=organization, subject=device_2) == cluster


def test_linking_twice_changes_nothing_and_a_subject_cannot_link_to_itself(
    organization: Organization, purposes: dict[str, Purpose]
) -> None:
    services.subject_link(organization=organization, subject_id="person-1", linked_subject_id="device-1", actor="t")
    signal(organization, "device-1", "US-CA")
    events, audits = ConsentEvent.objects.count(), AuditLogEntry.objects.count()

    services.subject_link(organization=organization, subject_id="device-1", linked_subject_id="person-1", actor="t")

    assert SubjectLink.objects.count() == 1
    assert (ConsentEvent.objects.count(), AuditLogEntry.objects.count()) == (events, audits)
    with pytest.raises(InvalidInput):
        services.subject_link(organization=organization, subject_id="person-1", linked_subject_id="person-1", actor="t")


def test_links_are_transitive_and_scoped_to_the_organization(
    organization: Organization, other_organization: Organization, purposes: dict[str, Purpose]
) -> None:
    services.subject_link(organization=organization, subject_id="a", linked_subject_id="b", actor="t")
    services.subject_link(organization=organization, subject_id="c", linked_subject_id="b", actor="t")
    services.subject_link(organization=other_organization, subject_id="a", linked_subject_id="z", actor="t")

    a = Subject.objects.get(organization=organization, external_id="a")
    assert linked_subject_ids(organization=organization, subject=a) == ["a", "b", "c"]


# --------------------------------------------------------------------------------------------
# The organization's switch
# --------------------------------------------------------------------------------------------


def test_changing_the_honor_everywhere_switch_dates_the_change_and_audits_it(organization: Organization) -> None:
    Organization.objects.filter(pk=organization.pk).update(gpc_settings_updated_at=date(2025, 4, 15))

    updated = services.organization_gpc_settings_update(
        organization=organization, honor_everywhere=False, actor="legal@acme"
    )

    assert updated.honor_gpc_everywhere is False
    assert updated.gpc_settings_updated_at == timezone.localdate()
    entry = AuditLogEntry.objects.filter(action="organization.gpc_settings_changed").get()
    assert (entry.actor, entry.data) == ("legal@acme", {"honor_gpc_everywhere": False})


def test_setting_the_switch_to_its_current_value_changes_nothing(organization: Organization) -> None:
    Organization.objects.filter(pk=organization.pk).update(gpc_settings_updated_at=date(2025, 4, 15))

    updated = services.organization_gpc_settings_update(organization=organization, honor_everywhere=True, actor="t")

    assert updated.gpc_settings_updated_at == date(2025, 4, 15)
    assert not AuditLogEntry.objects.filter(action="organization.gpc_settings_changed").exists()
