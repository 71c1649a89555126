"""Demo rows for every admin list and page the legal team reads: the ``seed_demo`` organization (catalog,
subjects, ledger, recipients, an API key) plus data-subject requests in every countdown colour, stamps,
deliveries, an alert, a connector, a witness and a staff user. Used by the layout browser test and by
``docs/screenshots.py``; written through the services, as the product writes them."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.management import call_command
from django.utils import timezone

from consent.models import Subject
from consent.services import ConsentEventInput, consent_record, witness_create
from core.models import Organization
from core.selectors import organization_by_slug
from core.staff_roles import DSAR_OPERATOR, sync_staff_roles
from dsar import services as dsar_services
from dsar.models import DataSubjectRequest
from provenance.enums import AlertKind
from provenance.models import Recipient
from provenance.services.alerts import alert_failures, provenance_alert_open
from provenance.services.deliveries import delivery_create
from provenance.services.notices import consent_notices_scan
from provenance.services.recipients import recipient_update
from provenance.services.stamping import StampRequest, stamp_many

STAFF_USERNAME = "lena.legal"
STAFF_PASSWORD = "workbench-demo-password"
ACTOR = "cli:seed_demo"


@dataclass(frozen=True)
class Workbench:
    organization: Organization
    staff: AbstractUser
    request: DataSubjectRequest
    subject_pk: int


def _request(
    organization: Organization, *, days_ago: int, request_type: str = "access", regime: str = "ccpa", **extra: Any
) -> DataSubjectRequest:
    return dsar_services.dsar_create(
        organization=organization,
        request_type=request_type,
        channel=extra.pop("channel", "email"),
        actor=ACTOR,
        regime=regime,
        received_at=timezone.now() - timedelta(days=days_ago),
        requester=dsar_services.Requester(email="ada.lovelace@example.com", name="Ada Lovelace"),
        **extra,
    )


def seed_workbench() -> Workbench:
    """Seed (once per database) and return the rows the pages are shown with."""
    with tempfile.TemporaryDirectory() as scratch:
        call_command("seed_demo", api_key_file=str(Path(scratch) / "demo-api-key"), stdout=io.StringIO())
    organization = organization_by_slug("demo")
    assert organization is not None
    sync_staff_roles()
    staff = get_user_model().objects.create_user(
        username=STAFF_USERNAME,
        password=STAFF_PASSWORD,
        email="lena@demo.example",
        first_name="Lena",
        last_name="Fischer",
        is_staff=True,
        is_superuser=True,
    )
    staff.groups.add(*Group.objects.filter(name=DSAR_OPERATOR))
    dsar_services.legal_contact_create(
        organization=organization, email="legal@demo.example", name="Legal team", actor=ACTOR
    )

    # Requests in every colour of the countdown, and a closed one.
    overdue = _request(organization, days_ago=50, subject_external_id="demo-alice")
    _request(organization, days_ago=43, request_type="deletion", subject_external_id="demo-bob")
    _request(organization, days_ago=3, request_type="correction")
    shown = _request(organization, days_ago=6, regime="gdpr", jurisdiction="IE", subject_external_id="demo-alice")
    dsar_services.dsar_assign(request=shown, assignee=staff, actor=f"user:{staff.pk}")
    dsar_services.dsar_assign(request=overdue, assignee=staff, actor=f"user:{staff.pk}")
    done = dsar_services.dsar_create(
        organization=organization, request_type="deletion", channel="api", actor=ACTOR, jurisdiction="DE"
    )
    dsar_services.dsar_transition(request=done, to_status="in_progress", actor=f"user:{staff.pk}")
    dsar_services.dsar_transition(request=done, to_status="completed", actor=f"user:{staff.pk}")

    # Stamps and deliveries to the CRM, a validation alert, a connector and a ledger witness.
    crm = Recipient.objects.get(organization=organization, key="crm")
    recipient_update(
        recipient=crm,
        actor=ACTOR,
        endpoint_url="https://crm.demo.example/in",
        webhook_url="https://crm.demo.example/consent-hooks",
    )
    # A grant after the CRM's webhook was set: the notice scan turns it into a consent notice to the CRM.
    consent_record(
        organization=organization,
        item=ConsentEventInput(
            subject_id="demo-erin",
            purpose="marketing-email",
            action="grant",
            occurred_at=timezone.now() - timedelta(minutes=5),
            source="web-signup",
            collection_method="web_form",
            jurisdiction="IE",
        ),
    )
    consent_notices_scan()
    stamps = [
        StampRequest(recipient="crm", purposes=("marketing-email",), subject_id=subject, data={"plan": "pro"})
        for subject in ("demo-alice", "demo-bob", "demo-carol")
    ]
    stamp_many(organization=organization, requests=stamps)
    delivery_create(organization=organization, request=stamps[0], actor=ACTOR)
    provenance_alert_open(
        organization_id=organization.pk,
        kind=AlertKind.VALIDATION,
        subject_external_id="demo-bob",
        source_key="partner-leads",
        failures=alert_failures(what="marketing-email", problem="withdrawn", detail="consent withdrawn 2 days ago"),
    )
    dsar_services.connector_create(
        organization=organization,
        key="billing",
        name="Billing system",
        url="https://billing.demo.example/dsar",
        actor=ACTOR,
    )
    witness_create(organization=organization, name="Auditor Ltd", url="https://witness.demo.example/", actor=ACTOR)

    subject_pk = Subject.objects.get(organization=organization, external_id="demo-alice").pk
    return Workbench(organization=organization, staff=staff, request=shown, subject_pk=subject_pk)
