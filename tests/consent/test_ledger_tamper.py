"""Tamper evidence on PostgreSQL: the trigger refuses UPDATE and DELETE of ledger rows, and with the
trigger out of the way (a DBA, a restored backup) verification names the first broken link."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from consent import ledger, services
from consent.enums import SourceKind
from consent.models import ConsentEvent, LedgerVerificationRun, Purpose, Source, Subject
from consent.selectors import ledger_integrity_report
from core.enums import AuditAction
from core.models import AuditLogEntry, Organization
from core.services import organization_create
from tests.conftest import event_input

TABLE = "consent_consentevent"
TRIGGER = "consent_event_append_only"


@dataclass
class Ledger:
    organization: Organization
    other: Organization
    chain: list[ConsentEvent]  # cust-1 in chain order
    subject: Subject


def record(organization: Organization, **overrides: Any) -> ConsentEvent:
    return services.consent_record(organization=organization, item=event_input(**overrides)).event


@pytest.fixture
def book(organization: Organization, source: Source, purpose: Purpose) -> Ledger:
    """cust-1's chain: #2 and #5 are not what any consent state points at (the projection carries no foreign-key
    constraints; the integrity check compares it with the ledger)."""
    analytics = services.purpose_create(organization=organization, actor="test", key="analytics", name="Analytics")
    chain = [
        record(organization, occurred_at="2026-06-01T10:00:00Z", ip_address="203.0.113.7"),
        record(organization, action="withdraw", occurred_at="2026-06-01T11:00:00Z", jurisdiction="DE"),
        record(organization, purpose=analytics.key, occurred_at="2026-06-01T11:30:00Z"),
        record(organization, occurred_at="2026-06-01T12:00:00Z", gpc=True),
        record(organization, purpose=analytics.key, action="withdraw", occurred_at="2026-06-01T09:00:00Z"),
    ]
    record(organization, subject_id="cust-2", occurred_at="2026-06-01T10:00:00Z")
    record(organization, subject_id="cust-2", action="refuse", occurred_at="2026-06-02T10:00:00Z")
    other = organization_create(slug="initech", name="Initech", actor="test")
    services.source_create(organization=other, actor="test", key="web-signup", name="Form", kind=SourceKind.WEB_FORM)
    services.purpose_create(organization=other, actor="test", key="marketing-email", name="Marketing")
    record(other, subject_id="cust-1", occurred_at="2026-06-01T10:00:00Z")
    assert [e.chain_index for e in chain] == [1, 2, 3, 4, 5]
    return Ledger(organization, other, chain, chain[0].subject)


def check_deferred_constraints() -> None:
    """Run the foreign-key checks queued in the test's transaction: PostgreSQL refuses ALTER TABLE
    and TRUNCATE on a table with pending trigger events."""
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("SET CONSTRAINTS ALL DEFERRED")


@contextmanager
def trigger_disabled() -> Iterator[None]:
    check_deferred_constraints()
    sql(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        check_deferred_constraints()
        sql(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}")


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def tamper(statement: str, params: list[Any] | None = None) -> None:
    with trigger_disabled():
        sql(statement, params)


def rewind_tip(subject: Subject, **tip: Any) -> None:
    """What only the tables' owner can do (the tips only grow otherwise): disable the guard, reset the tip."""
    check_deferred_constraints()
    sql("ALTER TABLE consent_subject DISABLE TRIGGER consent_subject_tip_grows")
    try:
        Subject.objects.filter(pk=subject.pk).update(**tip)
    finally:
        check_deferred_constraints()
        sql("ALTER TABLE consent_subject ENABLE TRIGGER consent_subject_tip_grows")


def first_break() -> dict[str, Any]:
    result = ledger_integrity_report()
    assert not result.is_valid
    assert result.first_break is not None
    return result.first_break


def canonical(event: ConsentEvent) -> dict[str, Any]:
    event = ConsentEvent.objects.select_related("subject", "purpose", "source", "policy_version", "supersedes").get(
        pk=event.pk
    )
    return ledger.canonical_fields(
        event_id=event.event_id,
        subject_uuid=str(event.subject.uuid),
        chain_index=event.chain_index,
        purpose=event.purpose.key,
        action=event.action,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        valid_until=event.valid_until,
        source=event.source.key,
        collection_method=event.collection_method,
        policy_version=event.policy_version.version if event.policy_version else None,
        jurisdiction=event.jurisdiction,
        gpc=event.gpc,
        explicit_confirmation=event.explicit_confirmation,
        lifts_gpc_opt_out=event.lifts_gpc_opt_out,
        evidence_sealed=event.evidence_sealed,
        supersedes=event.supersedes.event_id if event.supersedes else None,
    )


# --------------------------------------------------------------------------------------------
# The trigger
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {TABLE} SET action = 'grant' WHERE id = %s",
        f"UPDATE {TABLE} SET occurred_at = occurred_at - interval '1 day' WHERE id = %s",
        f"UPDATE {TABLE} SET hash = hash WHERE id = %s",
        f"DELETE FROM {TABLE} WHERE id = %s",
    ],
)
def test_database_refuses_to_update_or_delete_a_ledger_row(book: Ledger, statement: str) -> None:
    target = book.chain[1]

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(statement, [target.pk])

    stored = ConsentEvent.objects.get(pk=target.pk)
    assert (stored.action, stored.occurred_at, stored.hash) == (target.action, target.occurred_at, target.hash)
    assert ledger_integrity_report().is_valid


def test_database_refuses_bulk_updates_and_deletes_of_the_whole_ledger(book: Ledger) -> None:
    count = ConsentEvent.objects.count()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ConsentEvent.objects.update(jurisdiction="FR")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(f"DELETE FROM {TABLE}")

    assert ConsentEvent.objects.count() == count
    assert not ConsentEvent.objects.filter(jurisdiction="FR").exists()


def test_database_refuses_to_truncate_the_ledger(book: Ledger) -> None:
    """TRUNCATE empties a table without firing row triggers: the ledger must refuse it too."""
    count = ConsentEvent.objects.count()
    check_deferred_constraints()

    with transaction.atomic():
        # The test settings allow TRUNCATE so the runner can reset tables; production never does.
        sql("SET LOCAL provenant.allow_truncate = 'off'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(f"TRUNCATE {TABLE} CASCADE")

    assert ConsentEvent.objects.count() == count


def test_appending_still_works_while_updates_are_refused(book: Ledger) -> None:
    event = record(book.organization, action="withdraw", occurred_at="2026-06-03T10:00:00Z")

    assert event.chain_index == 6
    assert ledger_integrity_report().is_valid


# --------------------------------------------------------------------------------------------
# Verification of an intact ledger
# --------------------------------------------------------------------------------------------


def test_intact_ledger_verifies(book: Ledger) -> None:
    result = ledger_integrity_report()

    assert result.is_valid
    assert result.first_break is None
    assert result.subjects_checked == 3
    assert result.events_checked == 8
    assert ledger_integrity_report(organization=book.organization).events_checked == 7
    assert ledger_integrity_report(organization=book.other).events_checked == 1


def test_verify_ledger_command_reports_an_intact_ledger(book: Ledger) -> None:
    out = StringIO()

    call_command("verify_ledger", stdout=out)

    assert out.getvalue().startswith("ledger valid: 8 events in 3 chains")
    run = LedgerVerificationRun.objects.get()
    assert run.is_valid
    assert run.organization is None
    assert run.triggered_by == "cli:verify_ledger"


def test_verify_api_reports_an_intact_ledger(book: Ledger, api_client_for: Callable[..., APIClient]) -> None:
    response = api_client_for(book.organization, "consent:read").get("/api/v1/ledger/verify")

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert body["first_break"] is None
    assert (body["subjects_checked"], body["events_checked"]) == (2, 7)
    assert body["ledger_root"] == ledger_integrity_report(organization=book.organization).ledger_root


# --------------------------------------------------------------------------------------------
# Changed rows
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "expression"),
    [
        ("action", "'grant'"),
        ("occurred_at", "occurred_at - interval '1 second'"),
        ("recorded_at", "recorded_at + interval '1 microsecond'"),
        ("jurisdiction", "'FR'"),
        ("gpc", "NOT gpc"),
        ("collection_method", "'paper'"),
        ("evidence_sealed", "'AAAA'"),
        ("valid_until", "now()"),
        ("supersedes_id", f"(SELECT min(id) FROM {TABLE})"),
    ],
)
def test_altered_field_is_reported_as_changed_at_that_row(book: Ledger, column: str, expression: str) -> None:
    target = book.chain[1]

    tamper(f"UPDATE {TABLE} SET {column} = {expression} WHERE id = %s", [target.pk])

    broken = first_break()
    assert broken["problem"] == "changed"
    assert (broken["subject_id"], broken["chain_index"], broken["event_id"]) == ("cust-1", 2, target.event_id)
    assert broken["subject_uuid"] == str(book.subject.uuid)


def test_row_moved_to_another_purpose_is_reported_changed(book: Ledger) -> None:
    analytics = Purpose.objects.get(organization=book.organization, key="analytics")

    tamper(f"UPDATE {TABLE} SET purpose_id = %s WHERE id = %s", [analytics.pk, book.chain[1].pk])

    assert (first_break()["problem"], first_break()["chain_index"]) == ("changed", 2)


def test_altered_row_with_recomputed_hash_breaks_the_next_link(book: Ledger) -> None:
    target = book.chain[1]
    tamper(f"UPDATE {TABLE} SET action = 'grant' WHERE id = %s", [target.pk])
    rehashed = ledger.event_hash(canonical(target), target.prev_hash)
    tamper(f"UPDATE {TABLE} SET hash = %s WHERE id = %s", [rehashed, target.pk])

    broken = first_break()

    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("relinked", 3, book.chain[2].event_id)


def test_altered_last_row_with_recomputed_hash_no_longer_matches_the_subject_tip(book: Ledger) -> None:
    target = book.chain[-1]
    tamper(f"UPDATE {TABLE} SET jurisdiction = 'FR' WHERE id = %s", [target.pk])
    rehashed = ledger.event_hash(canonical(target), target.prev_hash)
    tamper(f"UPDATE {TABLE} SET hash = %s WHERE id = %s", [rehashed, target.pk])

    broken = first_break()

    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("truncated", 6, None)


def test_fully_rewritten_chain_verifies_but_changes_the_ledger_root(book: Ledger) -> None:
    """Rewriting a row, its hash and the subject's tip is consistent in itself; the ledger root a
    client stored earlier is what gives it away."""
    root_before = ledger_integrity_report().ledger_root
    target = book.chain[-1]
    tamper(f"UPDATE {TABLE} SET jurisdiction = 'FR' WHERE id = %s", [target.pk])
    rehashed = ledger.event_hash(canonical(target), target.prev_hash)
    tamper(f"UPDATE {TABLE} SET hash = %s WHERE id = %s", [rehashed, target.pk])
    rewind_tip(book.subject, ledger_head_hash=rehashed)

    result = ledger_integrity_report()

    assert result.is_valid
    assert result.ledger_root != root_before


def test_first_of_several_broken_links_is_reported(book: Ledger) -> None:
    tamper(f"UPDATE {TABLE} SET jurisdiction = 'FR' WHERE id IN (%s, %s)", [book.chain[3].pk, book.chain[1].pk])

    assert first_break()["chain_index"] == 2


# --------------------------------------------------------------------------------------------
# Removed rows
# --------------------------------------------------------------------------------------------


def test_deleted_middle_row_is_reported_missing(book: Ledger) -> None:
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [book.chain[1].pk])

    broken = first_break()

    assert (broken["problem"], broken["chain_index"]) == ("missing", 2)
    assert broken["event_id"] == book.chain[2].event_id  # what was found in its place
    assert ledger_integrity_report().events_checked == 7


def test_deleted_middle_row_with_renumbered_successors_is_reported_relinked(book: Ledger) -> None:
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [book.chain[1].pk])
    for event in book.chain[2:]:
        tamper(f"UPDATE {TABLE} SET chain_index = chain_index - 1 WHERE id = %s", [event.pk])
    rewind_tip(book.subject, ledger_length=4)

    broken = first_break()

    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("relinked", 2, book.chain[2].event_id)


def test_deleted_last_row_is_reported_truncated(book: Ledger) -> None:
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [book.chain[-1].pk])

    broken = first_break()

    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("truncated", 5, None)
    assert (broken["subject_id"], broken["subject_uuid"]) == ("cust-1", str(book.subject.uuid))


def test_deleted_last_row_with_rewound_tip_changes_the_root_and_is_caught_by_the_projection(book: Ledger) -> None:
    """The chains agree with the rewound tip; the consent state folded from the remaining events does not (the
    removed withdrawal made the later grant a renewal): issue #12 checks the projection too."""
    root_before = ledger_integrity_report().ledger_root
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [book.chain[-1].pk])
    rewind_tip(book.subject, ledger_length=4, ledger_head_hash=book.chain[3].hash)

    result = ledger_integrity_report()

    assert not result.is_valid
    assert result.first_break is not None
    assert result.first_break["problem"] == "state_mismatch"
    assert (result.first_break["stored_status"], result.first_break["folded_status"]) == ("renewed", "given")
    assert result.ledger_root != root_before


@pytest.mark.parametrize("target", ["missing", "another pair's", "an earlier own"])
def test_state_naming_an_event_that_is_not_its_own_is_reported(book: Ledger, target: str) -> None:
    """The consent state carries no foreign-key constraints (issue #17): the integrity check is what finds a state
    whose event is not in the ledger, or is not the event its pair's history folds to, even with the status right."""
    marketing = book.chain[0].purpose_id
    moved = {
        "missing": ConsentEvent.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000,  # type: ignore[operator]
        "another pair's": book.chain[2].pk,  # cust-1's analytics grant
        "an earlier own": book.chain[0].pk,  # cust-1's first marketing grant (the state's event is #4)
    }[target]
    assert ledger_integrity_report().is_valid
    sql(
        "UPDATE consent_consentstate SET event_id = %s WHERE subject_id = %s AND purpose_id = %s",
        [moved, book.subject.pk, marketing],
    )

    broken = first_break()

    assert broken["problem"] == "state_mismatch"
    assert (broken["subject_id"], broken["purpose"]) == ("cust-1", "marketing-email")
    assert broken["stored_status"] == broken["folded_status"]  # only the event it names is wrong


@pytest.mark.parametrize(
    ("column", "target"),
    [("source_id", "missing"), ("source_id", "another"), ("policy_version_id", "missing")],
)
def test_state_reporting_a_source_or_policy_version_not_its_own_is_reported(
    book: Ledger, column: str, target: str
) -> None:
    """What a state reports as its provenance (source, policy version) is its basis event's: a dangling or altered
    one, which no foreign key refuses now, is found by the integrity check."""
    other = services.source_create(
        organization=book.organization, actor="test", key="crm", name="CRM", kind=SourceKind.IMPORT
    )
    value = other.pk if target == "another" else 10**9
    assert ledger_integrity_report().is_valid
    sql(
        f"UPDATE consent_consentstate SET {column} = %s WHERE subject_id = %s AND purpose_id = %s",
        [value, book.subject.pk, book.chain[0].purpose_id],
    )

    broken = first_break()

    assert broken["problem"] == "state_mismatch"
    assert (broken["subject_id"], broken["purpose"]) == ("cust-1", "marketing-email")


def test_consent_states_carry_no_foreign_key_constraints_and_the_ledger_keeps_its_own(db: None) -> None:
    """Why: the checks of a state's seven keys ran at every commit of every write (issue #17); the ledger, the
    system of record, keeps its constraints to the same rows."""

    def referenced(table: str) -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
                [table],
            )
            return {row[0] for row in cursor.fetchall()}

    assert referenced("consent_consentstate") == set()
    assert referenced(TABLE) == {
        "core_organization",
        "consent_subject",
        "consent_purpose",
        "consent_source",
        "consent_policyversion",
        TABLE,  # supersedes
    }


# --------------------------------------------------------------------------------------------
# Reordered rows
# --------------------------------------------------------------------------------------------


def swap_positions(first: ConsentEvent, second: ConsentEvent) -> None:
    with trigger_disabled():
        sql(f"UPDATE {TABLE} SET chain_index = -1 WHERE id = %s", [first.pk])
        sql(f"UPDATE {TABLE} SET chain_index = %s WHERE id = %s", [first.chain_index, second.pk])
        sql(f"UPDATE {TABLE} SET chain_index = %s WHERE id = %s", [second.chain_index, first.pk])


def test_swapped_rows_are_reported_relinked(book: Ledger) -> None:
    swap_positions(book.chain[1], book.chain[2])

    broken = first_break()

    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("relinked", 2, book.chain[2].event_id)


def test_swapped_rows_with_relinked_prev_hashes_are_reported_changed(book: Ledger) -> None:
    """Fixing up prev_hash to make the swapped rows link again changes what their hashes cover."""
    first, second = book.chain[0], book.chain[1]
    swap_positions(first, second)
    tamper(f"UPDATE {TABLE} SET prev_hash = %s WHERE id = %s", [ledger.GENESIS_HASH, second.pk])
    tamper(f"UPDATE {TABLE} SET prev_hash = %s WHERE id = %s", [second.hash, first.pk])

    broken = first_break()

    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("changed", 1, second.event_id)


# --------------------------------------------------------------------------------------------
# The command and the API on a broken ledger
# --------------------------------------------------------------------------------------------


def test_verify_ledger_command_exits_1_and_names_the_first_broken_link(book: Ledger) -> None:
    tamper(f"UPDATE {TABLE} SET action = 'grant' WHERE id = %s", [book.chain[1].pk])
    out = StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("verify_ledger", "--json", stdout=out)

    assert exited.value.code == 1
    result = json.loads(out.getvalue())
    assert result["valid"] is False
    assert result["first_break"]["problem"] == "changed"
    assert result["first_break"]["chain_index"] == 2
    assert result["first_break"]["event_id"] == book.chain[1].event_id
    run = LedgerVerificationRun.objects.get()
    assert not run.is_valid
    assert run.first_break == result["first_break"]


def test_verify_ledger_command_prints_the_break_without_json(book: Ledger) -> None:
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [book.chain[-1].pk])
    out = StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("verify_ledger", stdout=out)

    assert exited.value.code == 1
    assert out.getvalue().startswith("ledger BROKEN: ")
    assert json.loads(out.getvalue().removeprefix("ledger BROKEN: "))["problem"] == "truncated"


def test_verify_ledger_command_scoped_to_an_organization(book: Ledger) -> None:
    tamper(f"UPDATE {TABLE} SET jurisdiction = 'FR' WHERE id = %s", [book.chain[1].pk])

    out = StringIO()
    call_command("verify_ledger", "--organization", "initech", stdout=out)
    assert out.getvalue().startswith("ledger valid: 1 events in 1 chains")

    with pytest.raises(SystemExit) as exited:
        call_command("verify_ledger", "--organization", "acme", stdout=StringIO())
    assert exited.value.code == 1
    runs = {run.organization_id: run.is_valid for run in LedgerVerificationRun.objects.all()}
    assert runs == {book.other.pk: True, book.organization.pk: False}


def test_verify_ledger_command_refuses_an_unknown_organization(book: Ledger) -> None:
    with pytest.raises(CommandError):
        call_command("verify_ledger", "--organization", "nobody", stdout=StringIO())


def test_verify_api_reports_the_first_broken_link_of_the_callers_ledger_only(
    book: Ledger, api_client_for: Callable[..., APIClient]
) -> None:
    tamper(f"UPDATE {TABLE} SET occurred_at = occurred_at + interval '1 hour' WHERE id = %s", [book.chain[2].pk])

    mine = api_client_for(book.organization, "consent:read").get("/api/v1/ledger/verify")
    theirs = api_client_for(book.other, "consent:read").get("/api/v1/ledger/verify")

    assert mine.status_code == 200
    assert mine.json()["valid"] is False
    broken = mine.json()["first_break"]
    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("changed", 3, book.chain[2].event_id)
    assert broken["subject_id"] == "cust-1"
    assert theirs.status_code == 200
    assert theirs.json()["valid"] is True


def test_tampering_in_another_organization_is_not_reported_to_this_one(book: Ledger) -> None:
    other_event = ConsentEvent.objects.get(organization=book.other)
    tamper(f"UPDATE {TABLE} SET jurisdiction = 'FR' WHERE id = %s", [other_event.pk])

    assert ledger_integrity_report(organization=book.organization).is_valid
    assert not ledger_integrity_report(organization=book.other).is_valid
    assert not ledger_integrity_report().is_valid


# --------------------------------------------------------------------------------------------
# Verification doesn't trust the stored tips; GET records nothing, POST keeps the run (issue #11, item 1)
# --------------------------------------------------------------------------------------------


def roots_from_events(organization: Organization | None = None) -> str:
    """The documented ledger_root input, rebuilt independently from the stored events."""
    events = ConsentEvent.objects.select_related("subject").order_by("subject_id", "chain_index")
    if organization is not None:
        events = events.filter(organization=organization)
    chains: dict[str, list[ConsentEvent]] = {}
    for event in events:
        chains.setdefault(str(event.subject.uuid), []).append(event)
    lines = "".join(f"{uuid}:{len(chain)}:{chain[-1].hash}\n" for uuid, chain in sorted(chains.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def test_ledger_root_is_computed_from_the_events_not_the_stored_tips(book: Ledger) -> None:
    assert ledger_integrity_report().ledger_root == roots_from_events()
    assert ledger_integrity_report(organization=book.organization).ledger_root == roots_from_events(book.organization)

    # A forged tip (only the tables' owner can move it) changes nothing in the root: it is not an input.
    root_before = ledger_integrity_report().ledger_root
    rewind_tip(book.subject, ledger_length=99, ledger_head_hash="f" * 64)

    result = ledger_integrity_report()
    assert result.ledger_root == root_before
    assert not result.is_valid
    assert result.first_break is not None
    assert (result.first_break["problem"], result.first_break["subject_uuid"]) == ("truncated", str(book.subject.uuid))


def test_deleting_a_subjects_last_events_as_the_table_owner_is_reported_and_changes_the_root(
    book: Ledger, api_client_for: Callable[..., APIClient]
) -> None:
    """The attack: with the append-only trigger bypassed (the tables' owner), delete cust-1's last two events.
    The subject's tip still records 5 events (tips only grow): verification says the chain was truncated."""
    late = record(book.organization, action="withdraw", occurred_at="2026-06-01T08:00:00Z")  # no state rests on it
    root_before = api_client_for(book.organization, "consent:read").get("/api/v1/ledger/verify").json()["ledger_root"]
    tamper(f"DELETE FROM {TABLE} WHERE id IN (%s, %s)", [book.chain[4].pk, late.pk])

    body = api_client_for(book.organization, "consent:read").get("/api/v1/ledger/verify").json()

    assert body["valid"] is False
    broken = body["first_break"]
    assert (broken["problem"], broken["chain_index"], broken["event_id"]) == ("truncated", 5, None)
    assert broken["subject_uuid"] == str(book.subject.uuid)
    assert "2 event(s) at the end of the chain are gone" in broken["detail"]
    assert body["ledger_root"] != root_before
    assert body["ledger_root"] == roots_from_events(book.organization)


def test_chain_longer_than_its_stored_tip_is_reported(book: Ledger) -> None:
    rewind_tip(book.subject, ledger_length=3, ledger_head_hash=book.chain[2].hash)

    broken = first_break()

    assert (broken["problem"], broken["chain_index"]) == ("tip_behind", 4)
    assert "more than the subject's stored tip records" in broken["detail"]


def test_verify_get_writes_nothing_anywhere(book: Ledger, api_client_for: Callable[..., APIClient]) -> None:
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [book.chain[-1].pk])  # a broken ledger: still nothing written
    client = api_client_for(book.organization, "consent:read", "consent:write")
    before = {model._meta.label: model._default_manager.count() for model in apps.get_models()}

    for _ in range(2):
        assert client.get("/api/v1/ledger/verify").status_code == 200
    assert client.head("/api/v1/ledger/verify").status_code == 200

    after = {model._meta.label: model._default_manager.count() for model in apps.get_models()}
    assert after == before


def test_verify_post_records_the_run_and_audits_it(book: Ledger, api_client_for: Callable[..., APIClient]) -> None:
    response = api_client_for(book.organization, "consent:write").post("/api/v1/ledger/verify")

    assert response.status_code == 201
    body = response.json()
    run = LedgerVerificationRun.objects.get()
    assert (run.organization, run.is_valid, run.ledger_root) == (book.organization, True, body["ledger_root"])
    entry = AuditLogEntry.objects.get(action=AuditAction.LEDGER_VERIFIED)
    assert (entry.organization, entry.object_id) == (book.organization, str(run.pk))


def test_verify_post_needs_the_write_scope(book: Ledger, api_client_for: Callable[..., APIClient]) -> None:
    response = api_client_for(book.organization, "consent:read").post("/api/v1/ledger/verify")

    assert response.status_code == 403
    assert not LedgerVerificationRun.objects.exists()
