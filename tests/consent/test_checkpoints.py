"""Issue #12: signed checkpoints in the C2SP formats. The note format is checked against Go's
golang.org/x/mod/sumdb/note reference (Ed25519 is deterministic, so signing its text with its key must give its
note byte for byte); checkpoints of a live log are signed after sequencing, served as text/plain, kept, and
refused when tampered with."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from consent import checkpoints, merkle, services
from consent.models import LedgerCheckpoint, Purpose, Source
from consent.tasks import sequence_ledgers
from core.models import Organization
from tests.consent.api_contract import assert_problem
from tests.factories import ConsentEventInputFactory

GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = f"{GO_TEXT}\n\u2014 PeterNeumann {GO_SIGNATURE}\n"


def go_private_key() -> Ed25519PrivateKey:
    encoded = GO_SIGNER_KEY.split("+", 4)[4]  # the base64 itself holds a '+'
    raw = base64.b64decode(encoded)
    assert raw[0] == 1
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_signing_reproduces_gos_reference_note_byte_for_byte() -> None:
    key = go_private_key()
    name, public = checkpoints.parse_verifier_key(GO_VERIFIER_KEY)
    assert (name, public) == ("PeterNeumann", raw_public(key))
    assert checkpoints.verifier_key(name, public) == GO_VERIFIER_KEY

    signature = checkpoints.sign(GO_TEXT, name=name, sign_bytes=key.sign, public_key=public)

    assert checkpoints.SignedNote(GO_TEXT, (signature,)).text() == GO_NOTE
    assert checkpoints.open_note(GO_NOTE, [(name, public)]) == (GO_TEXT, ["PeterNeumann"])


@pytest.mark.parametrize(
    "tampered",
    [
        GO_NOTE.replace("cryptography", "cryptographY"),
        GO_NOTE.replace("x08go", "x08gp"),
        GO_NOTE.replace("\u2014 PeterNeumann", "\u2014 PeterNeuman"),
        GO_NOTE.replace("\n\n", "\n"),
        GO_TEXT,
    ],
)
def test_a_tampered_note_is_refused(tampered: str) -> None:
    name, public = checkpoints.parse_verifier_key(GO_VERIFIER_KEY)
    with pytest.raises(checkpoints.NoteError):
        checkpoints.open_note(tampered, [(name, public)])


def test_an_unknown_key_verifies_nothing() -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(checkpoints.NoteError):
        checkpoints.open_note(GO_NOTE, [("PeterNeumann", raw_public(other))])


# --- a live log ----------------------------------------------------------------------------------------------------

LOG_KEY = Ed25519PrivateKey.generate()


def log_signer(organization: Organization) -> services.CheckpointKey:
    return services.CheckpointKey(services.ledger_origin(organization), raw_public(LOG_KEY), LOG_KEY.sign)


@pytest.fixture
def signer() -> Iterator[Callable[[Organization], services.CheckpointKey]]:
    services.register_checkpoint_signer(log_signer)
    yield log_signer
    services.unregister_checkpoint_signer(log_signer)


def record(organization: Organization, count: int) -> None:
    items = ConsentEventInputFactory.build_batch(count)
    services.consent_record_many(organization=organization, items=items)


@pytest.mark.django_db(transaction=True)
def test_sequencing_signs_a_checkpoint_of_the_grown_log_served_as_text(
    organization: Organization,
    source: Source,
    purpose: Purpose,
    signer: Callable[[Organization], services.CheckpointKey],
    api_client_for: Callable[..., APIClient],
) -> None:
    ConsentEventInputFactory.reset_sequence()
    client = api_client_for(organization, "consent:read")
    assert_problem(client.get("/api/v1/ledger/checkpoint"), 404)
    record(organization, 5)
    assert sequence_ledgers() == {"appended": 5, "checkpoints": 1}
    assert sequence_ledgers() == {"appended": 0, "checkpoints": 0}
    record(organization, 3)
    sequence_ledgers()

    latest = client.get("/api/v1/ledger/checkpoint")
    first = client.get("/api/v1/ledger/checkpoint", {"tree_size": 5}, HTTP_ACCEPT="text/plain")

    assert latest.status_code == 200, latest.content
    assert latest["Content-Type"] == "text/plain; charset=utf-8"
    name = services.ledger_origin(organization)
    checkpoint, signers = checkpoints.verify_checkpoint(latest.content.decode(), [(name, raw_public(LOG_KEY))])
    assert signers == [name]
    assert (checkpoint.origin, checkpoint.tree_size) == (name, 8)
    assert name.endswith("/ledger/acme")
    old, _ = checkpoints.verify_checkpoint(first.content.decode(), [(name, raw_public(LOG_KEY))])
    assert old.tree_size == 5
    lines = latest.content.decode().split("\n")
    assert (lines[1], lines[3]) == ("8", "")
    assert lines[4].startswith(f"\u2014 {name} ")
    consistency = client.get("/api/v1/ledger/proofs/consistency", {"from": 5, "to": 8}).json()
    assert merkle.verify_consistency(
        5, 8, old.root_hash, checkpoint.root_hash, [base64.b64decode(p) for p in consistency["proof"]]
    )
    assert_problem(client.get("/api/v1/ledger/checkpoint", {"tree_size": 6}), 404)
    assert LedgerCheckpoint.objects.filter(organization=organization).count() == 2


@pytest.mark.django_db(transaction=True)
def test_checkpoints_are_kept_append_only(
    organization: Organization,
    source: Source,
    purpose: Purpose,
    signer: Callable[[Organization], services.CheckpointKey],
) -> None:
    record(organization, 2)
    sequence_ledgers()
    note = LedgerCheckpoint.objects.get().note

    for statement in (
        "UPDATE consent_ledgercheckpoint SET note = 'forged'",
        "DELETE FROM consent_ledgercheckpoint",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert LedgerCheckpoint.objects.get().note == note
