"""Denials carry the person's remedies: Art. 12(4) under the GDPR, the appeal under US state laws."""

from __future__ import annotations

import pytest
from django.core import mail

from dsar.denials import denial_notice, with_denial_notice
from dsar.models import DataSubjectRequest
from dsar.services import Requester, dsar_create, dsar_transition


def test_gdpr_denial_names_the_supervisory_authority_and_the_judicial_remedy() -> None:
    text = denial_notice(regime="gdpr", appeal_response_days=None)
    assert "supervisory authority" in text
    assert "judicial remedy" in text
    assert "Art. 12(4)" in text


def test_us_denial_explains_the_appeal_and_its_deadline() -> None:
    text = denial_notice(regime="vcdpa", appeal_response_days=60)
    assert "appeal" in text
    assert "60 days" in text


def test_a_reason_that_already_states_the_remedies_is_kept_as_is() -> None:
    reason = "Unable to identify. Notice: you may complain to a supervisory authority."
    assert with_denial_notice(reason, regime="gdpr", appeal_response_days=None) == reason


@pytest.mark.django_db
def test_rejecting_a_gdpr_request_records_and_emails_the_remedies(organization, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        dsar = dsar_create(
            organization=organization,
            request_type="access",
            jurisdiction="DE",
            channel="api",
            requester=Requester(email="jo@example.com", name="Jo"),
            actor="test",
        )
    mail.outbox.clear()
    dsar.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        dsar_transition(
            request=dsar, to_status="rejected", actor="test", reason="Manifestly unfounded.", notify_requester=True
        )

    stored = DataSubjectRequest.objects.get(pk=dsar.pk)
    assert stored.rejection_reason.startswith("Manifestly unfounded.")
    assert "judicial remedy" in stored.rejection_reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["jo@example.com"]
    assert "judicial remedy" in mail.outbox[0].body
