"""Issue #12: an operator with the tables' owner role tampers with the database in each way the issue lists,
triggers disabled. ``verify_ledger`` (the same report as the API) finds it against the checkpoints stored in the
database, and the offline auditor (consent/ledger_audit.py, none of our code) against a checkpoint kept outside,
from the export fetched afterwards. Untampered, both pass."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from consent import ledger_audit, services
from consent.models import ConsentEvent, ConsentState, LedgerLeaf, Purpose, Source, Subject
from consent.selectors import ledger_integrity_report
from consent.tasks import sequence_ledgers
from core.models import Organization
from provenance.services import keys
from tests.consent.owner_tampering import as_owner
from tests.factories import ConsentEventInputFactory

pytestmark = pytest.mark.django_db(transaction=True)


def record(organization: Organization, subject_id: str, count: int) -> None:
    items = ConsentEventInputFactory.build_batch(count, subject_id=subject_id)
    services.consent_record_many(organization=organization, items=items)


def event_of(subject_id: str, chain_index: int) -> ConsentEvent:
    return ConsentEvent.objects.get(subject__external_id=subject_id, chain_index=chain_index)


@pytest.fixture(autouse=True)
def fresh_signing_key_cache() -> Iterator[None]:
    """Each test's database starts empty: no process may sign with a key cached from an earlier one."""
    keys._cache.clear()
    yield
    keys._cache.clear()


@pytest.fixture
def kept(
    organization: Organization,
    source: Source,
    purpose: Purpose,
    api_client_for: Callable[..., APIClient],
    tmp_path: Path,
) -> dict[str, Any]:
    """A ledger of three people (cust-3's two events last), sequenced and checkpointed; the checkpoint and the
    key set saved outside, as an auditor would keep them."""
    ConsentEventInputFactory.reset_sequence()
    record(organization, "cust-1", 5)
    record(organization, "cust-2", 3)
    record(organization, "cust-3", 2)
    sequence_ledgers()
    client = api_client_for(organization, "consent:read")
    checkpoint = tmp_path / "checkpoint.txt"
    checkpoint.write_bytes(client.get("/api/v1/ledger/checkpoint").content)
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(APIClient().get(f"/.well-known/jwks/{organization.slug}.json").content)
    return {"client": client, "checkpoint": checkpoint, "jwks": jwks, "dir": tmp_path}


def audit(kept: dict[str, Any]) -> tuple[int, str]:
    export = kept["dir"] / "export.ndjson"
    response = kept["client"].get("/api/v1/ledger/export")
    assert response.status_code == 200
    export.write_bytes(b"".join(response.streaming_content))
    out = StringIO()
    status = ledger_audit.main(
        ["--export", str(export), "--checkpoint", str(kept["checkpoint"]), "--jwks", str(kept["jwks"])], out=out
    )
    return status, out.getvalue()


def test_an_untouched_ledger_passes_and_the_command_says_so(kept: dict[str, Any]) -> None:
    status, report = audit(kept)

    assert status == 0, report
    assert "OK: ledger" in report
    assert "10 events in 3 chains" in report
    out = StringIO()
    call_command(
        "audit_ledger",
        export=str(kept["dir"] / "export.ndjson"),
        checkpoint=[str(kept["checkpoint"])],
        jwks=str(kept["jwks"]),
        stdout=out,
    )
    assert "OK:" in out.getvalue()


def leaf_of(event: ConsentEvent) -> int:
    return LedgerLeaf.objects.get(event=event).leaf_index


def tamper_changed() -> None:
    as_owner(f"UPDATE consent_consentevent SET jurisdiction = 'FR' WHERE id = {event_of('cust-1', 2).pk}")


def tamper_deleted() -> None:
    victim = event_of("cust-1", 3)
    as_owner(
        f"DELETE FROM consent_ledgerleaf WHERE event_id = {victim.pk}",
        f"DELETE FROM consent_consentstate WHERE event_id = {victim.pk}",
        f"DELETE FROM consent_consentevent WHERE id = {victim.pk}",
    )


def tamper_swapped() -> None:
    first, second = event_of("cust-1", 2), event_of("cust-1", 3)
    as_owner(
        f"UPDATE consent_consentevent SET chain_index = -1 WHERE id = {first.pk}",
        f"UPDATE consent_consentevent SET chain_index = 2 WHERE id = {second.pk}",
        f"UPDATE consent_consentevent SET chain_index = 3 WHERE id = {first.pk}",
    )


def tamper_rolled_back() -> None:
    """The last event deleted with its leaf and nodes, the subject's tip and the log's head rolled back."""
    last = event_of("cust-3", 2)
    previous = event_of("cust-3", 1)
    index = leaf_of(last)
    as_owner(
        f"DELETE FROM consent_ledgerleaf WHERE event_id = {last.pk}",
        f"DELETE FROM consent_consentstate WHERE event_id = {last.pk}",
        f"DELETE FROM consent_consentevent WHERE id = {last.pk}",
        f"DELETE FROM consent_ledgertreenode WHERE level = 0 AND index = {index}",
        f"UPDATE consent_subject SET ledger_length = 1, ledger_head_hash = '{previous.hash}' "
        f"WHERE id = {previous.subject_id}",
    )
    _rebuild_head()


def _rebuild_head() -> None:
    """A careful operator: leaves renumbered without a gap, every tree node and the head recomputed, so the
    database agrees with itself. Only a checkpoint kept outside can tell."""
    from consent import merkle

    leaves = list(LedgerLeaf.objects.order_by("leaf_index").values_list("pk", "leaf_hash"))
    statements = [
        f"UPDATE consent_ledgerleaf SET leaf_index = leaf_index + 1000000 WHERE id = {pk}" for pk, _ in leaves
    ]
    statements += [
        f"UPDATE consent_ledgerleaf SET leaf_index = {i} WHERE id = {pk}" for i, (pk, _) in enumerate(leaves)
    ]
    hashes = [bytes.fromhex(value) for _, value in leaves]
    nodes = merkle.perfect_nodes_of(hashes)
    statements.append("DELETE FROM consent_ledgertreenode")
    statements += [
        f"INSERT INTO consent_ledgertreenode (organization_id, level, index, hash) "
        f"SELECT organization_id, {key.level}, {key.offset}, '{value.hex()}' FROM consent_ledgerloghead"
        for key, value in nodes.items()
    ]
    statements.append(
        f"UPDATE consent_ledgerloghead SET tree_size = {len(hashes)}, root_hash = '{merkle.root_of(hashes).hex()}'"
    )
    as_owner(*statements)


def tamper_chain_and_tip_deleted() -> None:
    subject = Subject.objects.get(external_id="cust-2")
    events = list(ConsentEvent.objects.filter(subject=subject).values_list("pk", flat=True))
    ids = ",".join(map(str, events))
    as_owner(
        f"DELETE FROM consent_ledgerleaf WHERE event_id IN ({ids})",
        f"DELETE FROM consent_consentstate WHERE subject_id = {subject.pk}",
        f"DELETE FROM consent_consentevent WHERE id IN ({ids})",
        f"UPDATE consent_subject SET ledger_length = 0, ledger_head_hash = repeat('0', 64) WHERE id = {subject.pk}",
    )
    _rebuild_head()


def tamper_chain_subject_and_tip_deleted() -> None:
    tamper_chain_and_tip_deleted()
    as_owner("DELETE FROM consent_subject WHERE external_id = 'cust-2'")


def tamper_chain_deleted_and_refilled() -> None:
    """The chain goes, and new events (sequenced the normal way) bring the log back to the size of the kept
    checkpoint: every count agrees, only the root differs."""
    tamper_chain_and_tip_deleted()
    organization = Organization.objects.get(slug="acme")
    record(organization, "cust-4", 3)
    services.ledger_sequence(organization)


def tamper_leaves_reordered() -> None:
    first, second = leaf_of(event_of("cust-1", 1)), leaf_of(event_of("cust-2", 1))
    a, b = event_of("cust-1", 1).pk, event_of("cust-2", 1).pk
    as_owner(
        f"UPDATE consent_ledgerleaf SET leaf_index = 1000000 WHERE event_id = {a}",
        f"UPDATE consent_ledgerleaf SET leaf_index = {first} WHERE event_id = {b}",
        f"UPDATE consent_ledgerleaf SET leaf_index = {second} WHERE event_id = {a}",
    )


CASES: list[tuple[str, Callable[[], None], str]] = [
    ("a row changed", tamper_changed, "it was changed"),
    ("a row deleted", tamper_deleted, "missing"),
    ("two rows swapped", tamper_swapped, "it was changed"),
    ("the last row deleted and the tip rolled back", tamper_rolled_back, "the log lost leaves"),
    ("a whole chain and its tip deleted", tamper_chain_and_tip_deleted, "the log lost leaves"),
    ("a chain, its subject and its tip deleted", tamper_chain_subject_and_tip_deleted, "the log lost leaves"),
    ("a chain deleted and the log refilled to its size", tamper_chain_deleted_and_refilled, "rewritten since"),
    ("the leaf table edited", tamper_leaves_reordered, "removed, reordered or inserted"),
]


@pytest.mark.parametrize(("name", "tamper", "reason"), CASES, ids=[case[0] for case in CASES])
def test_tampering_fails_verification_and_the_offline_audit(
    kept: dict[str, Any], name: str, tamper: Callable[[], None], reason: str
) -> None:
    tamper()

    status, report = audit(kept)
    verified = verify_ledger()

    assert status == 1, report
    assert report.startswith("FAILED:")
    assert reason in report, report
    assert verified.startswith("ledger BROKEN"), verified


def verify_ledger() -> str:
    """``manage.py verify_ledger``: exit status 1 and the first problem when the ledger is broken."""
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify_ledger", stdout=out)
    assert exited.value.code == 1
    return out.getvalue()


def flip_state() -> None:
    state = ConsentState.objects.filter(subject__external_id="cust-1").first()
    assert state is not None
    as_owner(f"UPDATE consent_consentstate SET status = 'refused' WHERE id = {state.pk}")


def edit_leaf_hash() -> None:
    as_owner("UPDATE consent_ledgerleaf SET leaf_hash = repeat('0', 64) WHERE leaf_index = 4")


def edit_tree_node() -> None:
    as_owner("UPDATE consent_ledgertreenode SET hash = repeat('0', 64) WHERE level = 1 AND index = 0")


def replace_checkpoint() -> None:
    """A checkpoint row rewritten to state another root, its signature kept."""
    as_owner("UPDATE consent_ledgercheckpoint SET root_hash = repeat('0', 64)")


def forge_checkpoint_note() -> None:
    as_owner("UPDATE consent_ledgercheckpoint SET note = replace(note, E'\\n10\\n', E'\\n9\\n')")


SERVER_CASES: list[tuple[str, Callable[[], None], str]] = [
    ("a consent-state row flipped", flip_state, "state_mismatch"),
    ("a leaf hash edited", edit_leaf_hash, "leaf_changed"),
    ("a tree node edited", edit_tree_node, "tree_changed"),
    ("a checkpoint row replaced", replace_checkpoint, "checkpoint_forged"),
    ("a checkpoint's note forged", forge_checkpoint_note, "checkpoint_forged"),
]


@pytest.mark.parametrize(("name", "tamper", "problem"), SERVER_CASES, ids=[case[0] for case in SERVER_CASES])
def test_what_the_export_does_not_carry_is_caught_by_verification(
    kept: dict[str, Any], name: str, tamper: Callable[[], None], problem: str
) -> None:
    """The projection and the log's own tables are not in the export (the auditor recomputes them): the server's
    verification checks them against the events and the stored checkpoints."""
    tamper()

    report = ledger_integrity_report()

    assert not report.is_valid
    assert report.first_break is not None
    assert report.first_break["problem"] == problem, report.first_break


def test_an_untouched_ledger_verifies(kept: dict[str, Any]) -> None:
    report = ledger_integrity_report()
    assert report.is_valid, report.first_break


def test_a_forged_or_foreign_checkpoint_fails(kept: dict[str, Any]) -> None:
    text = kept["checkpoint"].read_text()
    lines = text.split("\n")
    lines[1] = str(int(lines[1]) - 1)  # claim a smaller log under the same signature
    kept["checkpoint"].write_text("\n".join(lines))
    status, report = audit(kept)
    assert status == 1
    assert "no signature" in report

    kept["checkpoint"].write_text(text)
    kept["jwks"].write_text(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "A" * 43, "kid": "x"}]}))
    status, report = audit(kept)
    assert status == 1
    assert "no signature" in report


def test_unreadable_input_is_status_2_and_the_command_refuses(kept: dict[str, Any]) -> None:
    kept["jwks"].write_text("{}")
    status, report = audit(kept)
    assert status == 2
    assert "unreadable input" in report
    with pytest.raises(CommandError):
        call_command(
            "audit_ledger",
            export=str(kept["dir"] / "export.ndjson"),
            checkpoint=[str(kept["checkpoint"])],
            jwks=str(kept["jwks"]),
            stdout=StringIO(),
        )
