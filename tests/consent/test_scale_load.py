"""The synthetic bulk loader (bench/scale_load.py, issue #16): what it writes by COPY is what the application would
have stored. Checked with the application's own verification (hash chains, transparency log, checkpoints,
projection) and its own state rebuild."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.db import connection
from ulid import ULID

from consent import services as consent_services
from consent.enums import SourceKind
from consent.models import ConsentEvent, ConsentState, LedgerCheckpoint, LedgerLeaf, Subject
from consent.selectors import event_evidence, ledger_integrity_report
from core.models import Organization


def _scale_load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "scale_load.py"
    spec = importlib.util.spec_from_file_location("scale_load", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scale_load", module)
    spec.loader.exec_module(module)
    return module


scale_load = _scale_load()

_STATE_FIELDS = (
    "purpose_id",
    "status",
    "since",
    "valid_until",
    "event_id",
    "basis_event_id",
    "source_id",
    "policy_version_id",
    "jurisdiction",
    "gpc",
    "gpc_conflict",
    "last_occurred_at",
    "last_rank",
    "last_seq",
)


def _states(subject: Subject) -> list[tuple[Any, ...]]:
    return list(ConsentState.objects.filter(subject=subject).order_by("purpose_id").values_list(*_STATE_FIELDS))


@pytest.fixture
def loaded(organization: Organization) -> Any:
    """300 subjects and 1,200 events loaded by COPY in the test's transaction, for an organization with the
    bench's catalog."""
    consent_services.source_create(
        organization=organization, actor="test", key="web-signup", name="Web", kind=SourceKind.WEB_FORM
    )
    for key in scale_load.PURPOSES:
        consent_services.purpose_create(organization=organization, actor="test", key=key, name=key, validity="P1Y")
    connection.ensure_connection()
    return scale_load.load(
        organization_slug=organization.slug,
        subjects=300,
        events=1200,
        chunk=100,
        connection=connection.connection,
        analyze=False,
    )


@pytest.mark.django_db
def test_loaded_ledger_passes_the_full_verification(organization: Organization, loaded: Any) -> None:
    # Given a load of 300 subjects / 1,200 events, when the ledger is verified as the verification job does it,
    # then every chain, the transparency log with its signed checkpoint and every projection row verify.
    assert (loaded.subjects, loaded.events, loaded.leaves) == (300, 1200, 1200)
    assert Subject.objects.filter(organization=organization).count() == 300
    assert ConsentEvent.objects.filter(organization=organization).count() == 1200
    assert ConsentState.objects.filter(organization=organization).count() == loaded.states
    report = ledger_integrity_report(organization=organization)
    assert report.first_break is None
    assert report.is_valid
    assert (report.subjects_checked, report.events_checked, report.log_size) == (300, 1200, 1200)
    assert LedgerCheckpoint.objects.filter(organization=organization, tree_size=1200).exists()


@pytest.mark.django_db
def test_loaded_states_equal_the_service_rebuild(organization: Organization, loaded: Any) -> None:
    # Given loaded subjects, when the service layer rebuilds a sample's consent states from their events,
    # then it writes exactly the rows the loader wrote.
    subjects = list(Subject.objects.filter(organization=organization).order_by("pk"))
    sample = random.Random(16).sample(subjects, 25)
    statuses = set()
    for subject in sample:
        loaded_states = _states(subject)
        assert loaded_states
        consent_services.consent_states_rebuild(subject=subject, actor="test")
        assert _states(subject) == loaded_states
        statuses |= {row[1] for row in loaded_states}
    assert {"given", "withdrawn"} <= statuses  # the sample is not only grants


@pytest.mark.django_db
def test_loaded_chains_tips_ids_and_evidence_are_the_applications(organization: Organization, loaded: Any) -> None:
    subject = Subject.objects.get(organization=organization, external_id="subject-0")
    events = list(ConsentEvent.objects.filter(subject=subject).order_by("chain_index"))
    # The tip is the last event's hash; ids, event ids (ULIDs) and occurrences rise along the chain.
    assert subject.ledger_length == len(events)
    assert subject.ledger_head_hash == events[-1].hash
    assert [e.pk for e in events] == sorted(e.pk for e in events)
    assert [e.event_id for e in events] == sorted(e.event_id for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert all(e.occurred_at < e.recorded_at for e in events)
    assert ULID.from_str(events[0].event_id).datetime <= events[0].recorded_at
    # Every tenth subject's first event carries evidence sealed under its own data key, as an API write.
    assert event_evidence(events[0]) == {"ip_address": "203.0.113.1", "user_agent": "Mozilla/5.0 bench"}
    assert all(not e.evidence_sealed for e in events[1:])
    # The sequencer finds nothing left to append: every event has its leaf already.
    assert LedgerLeaf.objects.filter(organization=organization).count() == 1200
    assert consent_services.ledger_sequence(organization).appended == 0


@pytest.mark.django_db
def test_loader_refuses_an_organization_with_events(organization: Organization, loaded: Any) -> None:
    with pytest.raises(ValueError, match="has events already"):
        scale_load.load(organization_slug=organization.slug, subjects=10, connection=connection.connection)
    assert ConsentEvent.objects.filter(organization=organization).count() == 1200


def test_ulid_text_is_the_librarys() -> None:
    for _ in range(500):
        value = int.from_bytes(os.urandom(16), "big")
        assert scale_load.ulid_text(value) == str(ULID.from_int(value))


def test_event_counts_keep_the_total_whatever_the_chunking() -> None:
    for subjects, events in ((300, 1200), (1001, 4004), (999, 3000), (10, 10), (7, 40)):
        counts = scale_load.event_counts(0, subjects, subjects=subjects, events=events)
        assert sum(counts) == events
        assert min(counts) >= 1
        assert scale_load.plan_chunks(subjects, events, 100)[-1] == events
        chunked = [
            c
            for first in range(0, subjects, 100)
            for c in scale_load.event_counts(first, min(first + 100, subjects), subjects=subjects, events=events)
        ]
        assert chunked == counts
