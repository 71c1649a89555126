"""Issue #12: every committed consent event becomes one leaf of its organization's log, in commit order; roots and
RFC 9162 proofs come from the stored perfect subtrees; the log's tables are append-only in the database."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from rest_framework.test import APIClient

from consent import checkpoints, merkle, selectors, services
from consent.models import ConsentEvent, LedgerLeaf, LedgerLogHead, LedgerTreeNode, Purpose, Source
from core.models import Organization
from tests.consent.api_contract import assert_problem
from tests.factories import ConsentEventInputFactory

# Each sequencing run reads what other transactions committed (PostgreSQL snapshots): real commits, not one
# test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _reset_sequences() -> None:
    ConsentEventInputFactory.reset_sequence()


def record(organization: Organization, count: int, subject_id: str = "cust-1") -> list[ConsentEvent]:
    items = ConsentEventInputFactory.build_batch(count, subject_id=subject_id)
    return [r.event for r in services.consent_record_many(organization=organization, items=items)]


def leaves_in_order(organization: Organization) -> list[LedgerLeaf]:
    return list(LedgerLeaf.objects.filter(organization=organization).select_related("event").order_by("leaf_index"))


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def test_every_event_becomes_one_leaf_and_the_root_is_rfc_9162s(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    events = record(organization, 5, "cust-1") + record(organization, 4, "cust-2") + record(organization, 3, "cust-1")

    report = services.ledger_sequence(organization)

    leaves = leaves_in_order(organization)
    assert report.appended == len(events) == len(leaves) == report.tree_size == 12
    assert [leaf.leaf_index for leaf in leaves] == list(range(12))
    assert {leaf.event_id for leaf in leaves} == {event.pk for event in events}
    for leaf in leaves:
        assert leaf.leaf_hash == merkle.leaf_hash(bytes.fromhex(leaf.event.hash)).hex()
    for subject_id in ("cust-1", "cust-2"):  # a subject's leaves follow its chain
        chain = [leaf.event.chain_index for leaf in leaves if leaf.event.subject.external_id == subject_id]
        assert chain == sorted(chain)
    expected_root = merkle.root_of([bytes.fromhex(leaf.leaf_hash) for leaf in leaves])
    assert report.root_hash == expected_root.hex() == LedgerLogHead.objects.get(organization=organization).root_hash
    assert selectors.tree_root(organization, 12) == expected_root


def test_a_second_run_appends_nothing_and_later_events_extend_the_log_consistently(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    record(organization, 7)
    first = services.ledger_sequence(organization)
    again = services.ledger_sequence(organization)
    record(organization, 6, "cust-9")
    grown = services.ledger_sequence(organization)

    assert (first.tree_size, again.appended, again.tree_size, grown.appended, grown.tree_size) == (7, 0, 7, 6, 13)
    proof = selectors.consistency_proof(organization, old_size=7)
    assert proof.old_root.hex() == first.root_hash
    assert proof.new_root.hex() == grown.root_hash
    assert merkle.verify_consistency(7, 13, proof.old_root, proof.new_root, proof.proof)
    for leaf in leaves_in_order(organization):
        inclusion = selectors.inclusion_proof(organization, event_id=leaf.event.event_id)
        assert merkle.verify_inclusion(
            inclusion.leaf_hash, inclusion.leaf_index, 13, inclusion.proof, bytes.fromhex(grown.root_hash)
        )
    # the stored nodes are exactly the perfect subtrees of the 13 leaves
    stored = {
        merkle.NodeKey(level, index): bytes.fromhex(value)
        for level, index, value in LedgerTreeNode.objects.filter(organization=organization).values_list(
            "level", "index", "hash"
        )
    }
    assert stored == merkle.perfect_nodes_of([bytes.fromhex(leaf.leaf_hash) for leaf in leaves_in_order(organization)])


def test_each_organization_has_its_own_log(
    organization: Organization, other_organization: Organization, source: Source, purpose: Purpose
) -> None:
    services.source_create(organization=other_organization, actor="t", key="web-signup", name="S", kind="web_form")
    services.purpose_create(organization=other_organization, actor="t", key="marketing-email", name="M")
    record(organization, 3)
    record(other_organization, 2)

    reports = {r.organization_id: r for r in services.ledger_sequence_all()}

    assert (reports[organization.pk].tree_size, reports[other_organization.pk].tree_size) == (3, 2)
    assert LedgerLeaf.objects.filter(organization=other_organization).count() == 2


@override_settings(PROVENANT_LEDGER_SEQUENCE_BATCH=3)
def test_a_run_appends_at_most_the_batch_and_the_next_runs_finish(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    record(organization, 8)

    runs = [services.ledger_sequence(organization) for _ in range(4)]

    assert [(r.appended, r.complete) for r in runs] == [(3, False), (3, False), (2, True), (0, True)]
    assert LedgerLeaf.objects.filter(organization=organization).count() == 8
    assert (
        runs[2].root_hash == merkle.root_of([bytes.fromhex(x.leaf_hash) for x in leaves_in_order(organization)]).hex()
    )


# --- the database guards ----------------------------------------------------------------------------------------


def refused(statement: str, params: list[Any] | None = None) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, params or [])
    except DatabaseError:
        return True
    return False


def test_the_logs_tables_are_append_only_and_its_head_only_grows(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    record(organization, 4)
    services.ledger_sequence(organization)
    before = (
        list(LedgerLeaf.objects.values_list("leaf_index", "leaf_hash")),
        list(LedgerTreeNode.objects.values_list("level", "index", "hash")),
        LedgerLogHead.objects.values_list("tree_size", "root_hash").get(),
    )

    attempts = [
        "UPDATE consent_ledgerleaf SET leaf_hash = repeat('0', 64)",
        "DELETE FROM consent_ledgerleaf WHERE leaf_index = 3",
        "UPDATE consent_ledgertreenode SET hash = repeat('0', 64) WHERE level = 2",
        "DELETE FROM consent_ledgertreenode",
        "UPDATE consent_ledgerloghead SET tree_size = 0, root_hash = repeat('0', 64)",
        "UPDATE consent_ledgerloghead SET root_hash = repeat('0', 64)",
        "DELETE FROM consent_ledgerloghead",
    ]
    assert [refused(statement) for statement in attempts] == [True] * len(attempts)
    assert (
        list(LedgerLeaf.objects.values_list("leaf_index", "leaf_hash")),
        list(LedgerTreeNode.objects.values_list("level", "index", "hash")),
        LedgerLogHead.objects.values_list("tree_size", "root_hash").get(),
    ) == before


# --- the API ----------------------------------------------------------------------------------------------------


@pytest.fixture
def reader(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "consent:read")


def test_the_api_serves_the_head_and_proofs_that_verify(
    organization: Organization, source: Source, purpose: Purpose, reader: APIClient
) -> None:
    events = record(organization, 6)
    services.ledger_sequence(organization)
    head = reader.get("/api/v1/ledger/log").json()
    record(organization, 5, "cust-2")
    services.ledger_sequence(organization)

    inclusion = reader.get("/api/v1/ledger/proofs/inclusion", {"event_id": events[2].event_id, "tree_size": 6})
    consistency = reader.get("/api/v1/ledger/proofs/consistency", {"from": 6})

    assert head["tree_size"] == 6
    assert inclusion.status_code == 200, inclusion.content
    body = inclusion.json()
    assert (body["tree_size"], body["root_hash"]) == (6, head["root_hash"])
    assert merkle.verify_inclusion(
        b64(body["leaf_hash"]), body["leaf_index"], 6, [b64(p) for p in body["proof"]], b64(head["root_hash"])
    )
    assert consistency.status_code == 200, consistency.content
    proof = consistency.json()
    assert (proof["from"], proof["to"], proof["from_root_hash"]) == (6, 11, head["root_hash"])
    assert merkle.verify_consistency(
        6, 11, b64(head["root_hash"]), b64(proof["to_root_hash"]), [b64(p) for p in proof["proof"]]
    )


def test_proof_refusals(
    organization: Organization,
    other_organization: Organization,
    source: Source,
    purpose: Purpose,
    reader: APIClient,
    api_client_for: Callable[..., APIClient],
) -> None:
    events = record(organization, 3)
    services.ledger_sequence(organization)
    late = record(organization, 1, "cust-late")[0]

    not_yet = reader.get("/api/v1/ledger/proofs/inclusion", {"event_id": late.event_id})
    assert not_yet["Retry-After"].isdigit()
    assert_problem(not_yet, 409, "not-yet-sequenced")
    assert_problem(reader.get("/api/v1/ledger/proofs/inclusion", {"event_id": "01NOPE"}), 404)
    assert_problem(reader.get("/api/v1/ledger/proofs/inclusion"), 422)
    beyond = reader.get("/api/v1/ledger/proofs/inclusion", {"event_id": events[0].event_id, "tree_size": 9})
    assert_problem(beyond, 422)
    too_small = reader.get("/api/v1/ledger/proofs/inclusion", {"event_id": events[2].event_id, "tree_size": 2})
    assert_problem(too_small, 422)
    for params in ({"from": 0}, {"from": 4}, {"from": 2, "to": 1}, {"from": "x"}, {}, {"from": "-1"}):
        assert_problem(reader.get("/api/v1/ledger/proofs/consistency", params), 422)
    # another tenant's key learns nothing of this log
    stranger = api_client_for(other_organization, "consent:read")
    assert_problem(stranger.get("/api/v1/ledger/proofs/inclusion", {"event_id": events[0].event_id}), 404)
    assert stranger.get("/api/v1/ledger/log").json()["tree_size"] == 0
    assert_problem(stranger.get("/api/v1/ledger/proofs/consistency", {"from": 1}), 422)


def test_an_events_detail_proves_it_is_in_a_signed_checkpoint(
    organization: Organization, source: Source, purpose: Purpose, reader: APIClient
) -> None:
    events = record(organization, 3)
    url = f"/api/v1/consent-events/{events[1].event_id}"
    assert reader.get(url).json()["ledger_log"] is None  # not sequenced yet
    services.ledger_sequence(organization)
    unsigned = reader.get(url).json()["ledger_log"]
    services.ledger_checkpoint(organization)
    record(organization, 2, "cust-2")
    services.ledger_sequence(organization)  # the log grows past the checkpoint; the proof stays against it

    placement = reader.get(url).json()["ledger_log"]

    assert unsigned["checkpoint"] is None
    assert (unsigned["leaf_index"], unsigned["tree_size"]) == (1, 3)
    jwks = APIClient().get(f"/.well-known/jwks/{organization.slug}.json").json()
    keys = [(services.ledger_origin(organization), b64url(jwk["x"])) for jwk in jwks["keys"]]
    checkpoint, _ = checkpoints.verify_checkpoint(placement["checkpoint"], keys)
    assert (checkpoint.tree_size, placement["tree_size"]) == (3, 3)
    assert merkle.verify_inclusion(
        b64(placement["leaf_hash"]), 1, 3, [b64(p) for p in placement["proof"]], checkpoint.root_hash
    )


def b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
