"""The report's hand-computed dataset, built through the services (shared by the figures and page tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from consent import services as consent_services
from consent.models import Purpose, Source
from core.models import Organization
from dsar import services as dsar_services
from dsar.request_deadlines import request_today
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from provenance.services.validation import ProvenanceClaim, provenance_record_validate
from reports.services import client_user_create
from tests.conftest import event_input

NOTICE = "b" * 64


def noon(days_ago: int) -> datetime:
    return datetime.combine(timezone.now().astimezone(UTC).date() - timedelta(days=days_ago), time(12), tzinfo=UTC)


def day(days_ago: int) -> str:
    return (timezone.now().astimezone(UTC).date() - timedelta(days=days_ago)).isoformat()


def record(organization: Organization, subject: str, purpose: str, action: str, days_ago: int) -> None:
    consent_services.consent_record(
        organization=organization,
        item=event_input(subject_id=subject, purpose=purpose, action=action, occurred_at=noon(days_ago)),
    )


@pytest.fixture
def dataset(organization: Organization, source: Source, purpose: Purpose) -> Organization:
    """marketing-email: v1 (60 days ago), material v2 (3 days ago); analytics: grants valid 40 days."""
    consent_services.source_create(
        organization=organization, actor="test", key="partner", name="Partner", kind="partner", dpa_reference="DPA-7"
    )
    consent_services.purpose_create(
        organization=organization, actor="test", key="analytics", name="Analytics", validity="P40D"
    )
    consent_services.policy_version_create(
        purpose=purpose, actor="test", version="v1", notice_sha256=NOTICE, effective_at=noon(60)
    )
    consent_services.policy_version_create(
        purpose=purpose, actor="test", version="v2", notice_sha256=NOTICE, effective_at=noon(3), is_material=True
    )
    record(organization, "s5", "analytics", "grant", 15)  # valid until 25 days ahead: expiring
    record(organization, "s2", "analytics", "refuse", 15)
    record(organization, "s1", "marketing-email", "grant", 10)  # stale after v2
    record(organization, "s2", "marketing-email", "grant", 10)
    record(organization, "s2", "marketing-email", "withdraw", 5)
    record(organization, "s3", "marketing-email", "refuse", 5)
    record(organization, "s4", "marketing-email", "grant", 5)  # stale after v2
    # s3 changes their mind a day ago, on a form still showing the v1 notice: stale although given after v2.
    consent_services.consent_record(
        organization=organization,
        item=event_input(
            subject_id="s3", purpose="marketing-email", action="grant", occurred_at=noon(1), policy_version="v1"
        ),
    )
    # GPC conflict: s4 opted in to the sale of their data, then their browser sent GPC (withdraws it, now).
    consent_services.purpose_create(
        organization=organization, actor="test", key="ad-sale", name="Ad sale", is_sale_or_sharing=True
    )
    record(organization, "s4", "ad-sale", "grant", 8)
    consent_services.gpc_signal_record(
        organization=organization, subject_id="s4", channel="header", jurisdiction="US-CA"
    )
    # s6 is known only from a GPC signal: an opt-out recorded under Provenant's built-in source.
    consent_services.gpc_signal_record(
        organization=organization, subject_id="s6", channel="header", jurisdiction="US-CA"
    )
    recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role="processor",
        purposes=["marketing-email", "analytics"],
    )
    stamp_many(
        organization=organization,
        requests=[
            StampRequest(recipient="crm", purposes=("analytics",), subject_id="s5", data={"a": 1}),
            StampRequest(recipient="crm", purposes=("marketing-email",), subject_id="s2", data={"a": 1}),
            StampRequest(recipient="crm", purposes=("marketing-email",), subject_id="s3", data={"a": 1}),
        ],
    )
    provenance_record_validate(
        organization=organization, claim=ProvenanceClaim(subject_id="s1", purposes=("marketing-email",)), actor="test"
    )
    consent_services.gpc_signal_record(
        organization=organization, subject_id="s1", channel="header", jurisdiction="US-CA"
    )
    now = timezone.now()
    done = [
        dsar_services.dsar_create(
            organization=organization,
            request_type=kind,
            channel="email",
            actor="test",
            jurisdiction="DE",
            received_at=now - timedelta(days=days),
        )
        for kind, days in (("access", 10), ("deletion", 20))
    ]
    for request in done:
        dsar_services.dsar_transition(request=request, to_status="in_progress", actor="test")
        dsar_services.dsar_transition(request=request, to_status="completed", actor="test")
    dsar_services.dsar_create(
        organization=organization,
        request_type="access",
        channel="email",
        actor="test",
        jurisdiction="US-CA",
        received_at=noon(50),
    )
    extended = dsar_services.dsar_create(
        organization=organization,
        request_type="deletion",
        channel="email",
        actor="test",
        jurisdiction="DE",
        received_at=now - timedelta(days=2),
    )
    dsar_services.dsar_extend(
        request=extended, reason_code="complexity", notice_sent_on=request_today(extended), actor="test"
    )
    consent_services.ledger_integrity_check(organization=organization, actor="test")
    return organization


CLIENT_PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def client_user_of() -> Callable[[Organization, str], Any]:
    """A client user (non-staff, one membership) of an organization."""

    def make(organization: Organization, username: str = "reader") -> Any:
        membership = client_user_create(
            organization=organization,
            username=username,
            email=f"{username}@client.example",
            password=CLIENT_PASSWORD,
            actor="test",
        )
        return membership.user

    return make
