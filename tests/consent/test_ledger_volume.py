"""A person with a long history: fifty decisions, chained, folded and paged exactly as a single one is."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from consent import services
from consent.enums import SourceKind
from consent.models import ConsentEvent, ConsentState, Purpose, Source, Subject
from consent.selectors import ledger_integrity_report
from consent.state import LedgerEntry, replay
from core.models import Organization
from tests.factories import ConsentEventInputFactory, OrganizationFactory

pytestmark = pytest.mark.django_db
HISTORY = 50


@pytest.fixture(autouse=True)
def _reset_sequences() -> None:
    ConsentEventInputFactory.reset_sequence()


def test_fifty_events_of_one_subject_form_one_unbroken_chain_and_fold_to_the_last_decision(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    items = ConsentEventInputFactory.build_batch(HISTORY)

    recorded = services.consent_record_many(organization=organization, items=items)

    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    chain = list(ConsentEvent.objects.filter(subject=subject).order_by("chain_index"))
    assert [e.chain_index for e in chain] == list(range(1, HISTORY + 1))
    assert [e.prev_hash for e in chain[1:]] == [e.hash for e in chain[:-1]]
    assert (subject.ledger_length, subject.ledger_head_hash) == (HISTORY, chain[-1].hash)
    assert [r.event.event_id for r in recorded] == [e.event_id for e in chain]
    report = ledger_integrity_report(organization=organization)
    assert report.is_valid
    assert report.events_checked == HISTORY
    # The 50th item (n = 49) takes ACTIONS[49 % 4]: a withdrawal.
    state = ConsentState.objects.get(subject=subject, purpose=purpose)
    assert state.status == "withdrawn"
    assert state.event_id == chain[-1].pk


def test_the_stored_state_equals_a_replay_of_the_whole_history_when_events_arrive_shuffled(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    items = ConsentEventInputFactory.build_batch(HISTORY)
    in_order = services.consent_record_many(organization=organization, items=items[:10])
    # The rest arrive in reverse (late offline events), one request each: every one sorts before the last.
    for item in reversed(items[10:]):
        services.consent_record_many(organization=organization, items=[item])

    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    history = [
        ledger_entry(event)
        for event in ConsentEvent.objects.filter(subject=subject).select_related("supersedes").order_by("pk")
    ]
    folded = replay(history)
    assert folded is not None
    state = ConsentState.objects.get(subject=subject, purpose=purpose)
    assert (state.status, state.event_id) == (folded.status, folded.event.seq)
    assert state.status == "withdrawn", "the latest decision in time is the 50th, a withdrawal"
    assert in_order[0].event.chain_index == 1
    assert ledger_integrity_report(organization=organization).is_valid


def ledger_entry(event: ConsentEvent) -> LedgerEntry:
    return LedgerEntry(
        seq=event.pk,
        event_id=event.event_id,
        action=event.action,
        occurred_at=event.occurred_at,
        valid_until=event.valid_until,
        supersedes=event.supersedes.event_id if event.supersedes else None,
        is_gpc=event.collection_method == "gpc_signal",
        lifts_gpc=event.lifts_gpc_opt_out,
    )


def test_the_history_endpoint_pages_through_fifty_events_in_chain_order_without_gaps(
    organization: Organization,
    source: Source,
    purpose: Purpose,
    client_rw: APIClient,
) -> None:
    services.consent_record_many(organization=organization, items=ConsentEventInputFactory.build_batch(HISTORY))

    seen: list[int] = []
    url: str | None = "/api/v1/subjects/cust-1/consent-events?limit=7"
    while url:
        response = client_rw.get(url)
        assert response.status_code == 200, response.content
        page = response.json()
        seen.extend(item["chain_index"] for item in page["results"])
        url = page["next"]
    assert seen == list(range(1, HISTORY + 1))


def test_many_organizations_keep_their_chains_apart(db: Any) -> None:
    organizations = OrganizationFactory.create_batch(3)
    for organization in organizations:
        services.source_create(
            organization=organization, actor="test", key="web-signup", name="Signup", kind=SourceKind.WEB_FORM
        )
        services.purpose_create(organization=organization, actor="test", key="marketing-email", name="Email")
        ConsentEventInputFactory.reset_sequence()
        services.consent_record_many(organization=organization, items=ConsentEventInputFactory.build_batch(10))

    for organization in organizations:
        subject = Subject.objects.get(organization=organization, external_id="cust-1")
        assert subject.ledger_length == 10
        assert ledger_integrity_report(organization=organization).events_checked == 10
    hashes = [
        set(ConsentEvent.objects.filter(organization=organization).values_list("hash", flat=True))
        for organization in organizations
    ]
    assert not hashes[0] & hashes[1], "each chain hashes its own subject uuid"
    assert not hashes[1] & hashes[2]
