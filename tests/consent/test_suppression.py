"""A person erased on request is not imported again: events naming a suppressed identifier are refused."""

from __future__ import annotations

from typing import Any

import pytest

from consent.models import ConsentEvent, Subject, SuppressedIdentifier
from consent.services import subject_suppress
from tests.conftest import event_body
from tests.consent.api_contract import assert_problem, pointers

pytestmark = pytest.mark.django_db


def test_an_event_for_a_suppressed_subject_id_is_refused_and_nothing_is_written(
    client_rw: Any, organization: Any, source: Any, purpose: Any
) -> None:
    subject_suppress(organization=organization, identifiers={"external_id": ["erased-1"]}, actor="test")

    response = client_rw.post("/api/v1/consent-events", event_body(subject_id="erased-1"), format="json")

    body = assert_problem(response, 409, "subject-suppressed")
    assert pointers(body) == {"/subject_id"}
    assert not Subject.objects.filter(external_id="erased-1").exists()
    assert not ConsentEvent.objects.exists()


def test_a_new_id_carrying_a_suppressed_email_is_refused_in_a_batch(
    client_rw: Any, organization: Any, source: Any, purpose: Any
) -> None:
    subject_suppress(organization=organization, identifiers={"email": ["Ada@Example.com"]}, actor="test")

    response = client_rw.post(
        "/api/v1/consent-events/bulk",
        {
            "events": [
                event_body(subject_id="fresh-1"),
                event_body(subject_id="fresh-2", subject_email="ada@example.com"),
            ]
        },
        format="json",
    )

    body = assert_problem(response, 409, "subject-suppressed")
    assert pointers(body) == {"/events/1/subject_email"}
    assert not ConsentEvent.objects.exists()


def test_suppression_keeps_only_keyed_hashes_and_is_idempotent(organization: Any) -> None:
    identifiers = {"external_id": ["cust-9"], "email": ["jo@example.com"]}
    assert subject_suppress(organization=organization, identifiers=identifiers, actor="test") == 2
    assert subject_suppress(organization=organization, identifiers=identifiers, actor="test") == 0

    stored = list(SuppressedIdentifier.objects.values_list("identifier_index", flat=True))
    assert len(stored) == 2
    assert not any("cust-9" in value or "example.com" in value for value in stored)


def test_other_people_are_recorded_as_usual(client_rw: Any, organization: Any, source: Any, purpose: Any) -> None:
    subject_suppress(organization=organization, identifiers={"external_id": ["erased-1"]}, actor="test")

    response = client_rw.post("/api/v1/consent-events", event_body(subject_id="someone-else"), format="json")

    assert response.status_code == 201, response.content
