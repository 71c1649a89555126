"""Issue #12: a consent-state row flipped by someone with database access (a refusal made to read "given") turns a
stamp from block into allow while every hash still verifies. Verification checks the projection against the
ledger; a recorded verification marks the subject, stamping then refuses to decide for it (503, or an error item
in a batch), and the state rebuilt from the ledger in the admin (its own permission, audited) ends the refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from consent import services
from consent.models import ConsentState, Purpose, Source, Subject
from core.models import AuditLogEntry, Organization
from provenance.services.recipients import recipient_create
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem

pytestmark = pytest.mark.django_db

STAMP = {"recipient": "crm", "purposes": ["marketing-email"], "subject_id": "cust-1", "data": {"plan": "pro"}}


@pytest.fixture
def refused(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    recipient_create(
        organization=organization, actor="t", key="crm", name="CRM", role="processor", purposes=[purpose.key]
    )
    for action, occurred_at in (("grant", "2026-06-01T10:00:00Z"), ("refuse", "2026-06-02T10:00:00Z")):
        services.consent_record(organization=organization, item=event_input(action=action, occurred_at=occurred_at))
    return Subject.objects.get(organization=organization, external_id="cust-1")


def flip_to_given(subject: Subject) -> None:
    """What a database login can do to the projection (no trigger guards it; the ledger is the truth)."""
    ConsentState.objects.filter(subject=subject).update(status="given")


def test_a_flipped_state_is_found_and_stamping_refuses_until_it_is_rebuilt(
    refused: Subject,
    organization: Organization,
    api_client_for: Callable[..., APIClient],
    client: Client,
    django_user_model: Any,
) -> None:
    stamper = api_client_for(organization, "stamp", "consent:read", "consent:write")
    first = stamper.post("/api/v1/stamps", STAMP, format="json").json()
    assert first["decision"] == "block"
    flip_to_given(refused)
    assert stamper.post("/api/v1/stamps", STAMP, format="json").json()["decision"] == "allow"  # the attack works

    read = stamper.get("/api/v1/ledger/verify").json()
    refused.refresh_from_db()
    assert read["valid"] is False
    assert read["first_break"]["problem"] == "state_mismatch"
    assert refused.state_inconsistent_since is None  # a GET reports and records nothing
    recorded = stamper.post("/api/v1/ledger/verify")
    refused.refresh_from_db()
    assert recorded.status_code == 201
    assert refused.state_inconsistent_since is not None

    single = stamper.post("/api/v1/stamps", STAMP, format="json")
    batch = stamper.post("/api/v1/stamps/batch", {"items": [STAMP]}, format="json").json()["results"][0]
    assert_problem(single, 503, "consent-state-inconsistent")
    assert batch["decision"] == "error"
    assert batch["errors"][0]["pointer"] == "/items/0/subject_id"

    staff = django_user_model.objects.create_user("counsel", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_subject", "rebuild_consent_state"]))
    client.force_login(staff)
    client.post("/admin/consent/subject/", {"action": "rebuild_consent_state", "_selected_action": [refused.pk]})

    refused.refresh_from_db()
    assert refused.state_inconsistent_since is None
    assert ConsentState.objects.get(subject=refused).status == "refused"
    entry = AuditLogEntry.objects.get(action="subject.consent_state_rebuilt")
    assert entry.data["before"] == ["marketing-email:given"]
    assert entry.data["after"] == ["marketing-email:refused"]
    assert stamper.post("/api/v1/stamps", STAMP, format="json").json()["decision"] == "block"
    assert stamper.post("/api/v1/ledger/verify").json()["valid"] is True


def test_view_only_staff_cannot_rebuild(
    refused: Subject, client: Client, django_user_model: Any, organization: Organization
) -> None:
    flip_to_given(refused)
    services.ledger_integrity_check(organization=organization, actor="t")
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_subject"))
    client.force_login(viewer)

    page = client.get("/admin/consent/subject/")
    client.post("/admin/consent/subject/", {"action": "rebuild_consent_state", "_selected_action": [refused.pk]})

    assert 'value="rebuild_consent_state"' not in page.content.decode()
    assert ConsentState.objects.get(subject=refused).status == "given"
    assert Subject.objects.get(pk=refused.pk).state_inconsistent_since is not None
    assert not AuditLogEntry.objects.filter(action="subject.consent_state_rebuilt").exists()
