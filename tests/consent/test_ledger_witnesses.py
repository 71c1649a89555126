"""Issue #12: every signed checkpoint is pushed to the organization's witnesses, real HTTP servers on 127.0.0.1,
retried with backoff when a witness fails, given up after the configured attempts; another organization's
witnesses and inactive ones get nothing; a witness URL the SSRF guard refuses is refused at registration."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from consent import checkpoints, services
from consent.enums import SourceKind
from consent.models import LedgerWitnessPush, Purpose, Source
from consent.tasks import sequence_ledgers, sweep_witness_pushes
from core.models import AuditLogEntry, Organization
from core.outbound import OutboundFailure
from core.problems import InvalidInput
from provenance.services import keys
from tests.factories import ConsentEventInputFactory
from tests.integration.http_receiver import HttpReceiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_signing_key_cache() -> Iterator[None]:
    keys._cache.clear()
    yield
    keys._cache.clear()


def record(organization: Organization, count: int) -> None:
    services.consent_record_many(organization=organization, items=ConsentEventInputFactory.build_batch(count))


def b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def test_each_checkpoint_reaches_every_active_witness_of_its_organization(
    organization: Organization, other_organization: Organization, source: Source, purpose: Purpose
) -> None:
    services.source_create(
        organization=other_organization, actor="t", key="web-signup", name="S", kind=SourceKind.WEB_FORM
    )
    services.purpose_create(organization=other_organization, actor="t", key="marketing-email", name="M")
    with HttpReceiver() as auditor, HttpReceiver() as sleeping, HttpReceiver() as stranger:
        witness = services.witness_create(organization=organization, name="Auditor", url=auditor.url, actor="t")
        idle = services.witness_create(organization=organization, name="Idle", url=sleeping.url, actor="t")
        services.witness_update(witness=idle, name="Idle", url=sleeping.url, is_active=False, actor="t")
        services.witness_create(organization=other_organization, name="Theirs", url=stranger.url, actor="t")
        record(organization, 4)
        sequence_ledgers()
        push = LedgerWitnessPush.objects.get(witness=witness)
        assert services.checkpoint_push(push.pk) == "delivered"
        assert services.checkpoint_push(push.pk) == "delivered"  # idempotent: nothing sent again

        [received] = auditor.wait_for(1)

    assert (sleeping.requests, stranger.requests) == ([], [])
    assert received.headers["content-type"] == "text/plain; charset=utf-8"
    assert received.headers["provenant-tree-size"] == "4"
    jwks = APIClient().get(f"/.well-known/jwks/{organization.slug}.json").json()
    name = services.ledger_origin(organization)
    checkpoint, _ = checkpoints.verify_checkpoint(
        received.body.decode(), [(name, b64url(k["x"])) for k in jwks["keys"]]
    )
    assert (checkpoint.origin, checkpoint.tree_size) == (received.headers["provenant-log"], 4)
    push.refresh_from_db()
    assert (push.status, push.attempts, push.last_status_code) == ("delivered", 1, 200)
    assert AuditLogEntry.objects.filter(action="ledger_witness.created").count() == 3


def test_a_failing_witness_is_retried_with_backoff_and_then_reached(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    with HttpReceiver(fail_times=1, fail_status=503) as auditor:
        witness = services.witness_create(organization=organization, name="Auditor", url=auditor.url, actor="t")
        record(organization, 2)
        sequence_ledgers()
        push = LedgerWitnessPush.objects.get(witness=witness)

        assert services.checkpoint_push(push.pk) == "pending"
        push.refresh_from_db()
        assert (push.attempts, push.last_status_code, push.last_error) == (1, 503, "HTTP 503")
        assert push.next_attempt_at > timezone.now() - timezone.timedelta(seconds=1)
        assert sweep_witness_pushes()["tried"] in (0, 1)  # not due yet unless the jitter drew ~0
        LedgerWitnessPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())  # time passes
        sweep_witness_pushes()

        auditor.wait_for(2)
    push.refresh_from_db()
    assert (push.status, push.attempts) == ("delivered", 2)


@override_settings(PROVENANT_WITNESS_PUSH_ATTEMPTS=2)
def test_a_witness_that_keeps_failing_is_given_up_and_logged(
    organization: Organization, source: Source, purpose: Purpose, caplog: pytest.LogCaptureFixture
) -> None:
    with HttpReceiver(fail_times=10, fail_status=500) as auditor:
        witness = services.witness_create(organization=organization, name="Auditor", url=auditor.url, actor="t")
        record(organization, 1)
        sequence_ledgers()
        push = LedgerWitnessPush.objects.get(witness=witness)
        services.checkpoint_push(push.pk)
        LedgerWitnessPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
        final = services.checkpoint_push(push.pk)

    assert final == "failed"
    assert "could not be pushed to witness" in caplog.text
    assert auditor.url not in caplog.text  # the URL may carry a token: never logged


@override_settings(PROVENANT_OUTBOUND_ALLOW_PRIVATE=False)
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://10.0.0.5/hook", "file:///etc/passwd", "http://169.254.169.254/"]
)
def test_a_witness_the_ssrf_guard_refuses_is_refused_at_registration(organization: Organization, url: str) -> None:
    with pytest.raises(InvalidInput):
        services.witness_create(organization=organization, name="Inside", url=url, actor="t")
    assert not AuditLogEntry.objects.filter(action="ledger_witness.created").exists()


def test_no_lock_is_held_while_a_witness_answers(organization: Organization, source: Source, purpose: Purpose) -> None:
    """The push is claimed in one short transaction and recorded in another: while the witness takes its time,
    the row is free to lock, and another worker (or the sweep) finds it claimed and sends nothing."""
    with HttpReceiver(slow_times=1, slow_seconds=2.0) as auditor:
        witness = services.witness_create(organization=organization, name="Auditor", url=auditor.url, actor="t")
        record(organization, 2)
        sequence_ledgers()
        push = LedgerWitnessPush.objects.get(witness=witness)
        outcome: list[str] = []

        def send() -> None:
            try:
                outcome.append(services.checkpoint_push(push.pk))
            finally:
                connection.close()

        sender = threading.Thread(target=send)
        sender.start()
        auditor.wait_arrived(1)  # the call is in flight
        with transaction.atomic():
            locked = LedgerWitnessPush.objects.select_for_update(nowait=True).get(pk=push.pk)  # no lock held
        assert (locked.status, locked.attempts) == ("pending", 1)
        assert locked.next_attempt_at > timezone.now()  # claimed past the call's timeout
        assert services.checkpoint_push(push.pk) == "pending"  # another worker: not due, nothing sent
        assert sweep_witness_pushes()["tried"] == 0
        sender.join(timeout=30)
        received = auditor.wait_for(1)

    assert outcome == ["delivered"]
    assert len(received) == 1
    push.refresh_from_db()
    assert (push.status, push.attempts, push.last_status_code) == ("delivered", 1, 200)


def test_a_claim_whose_worker_died_is_taken_over_when_it_runs_out(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    with HttpReceiver() as auditor:
        witness = services.witness_create(organization=organization, name="Auditor", url=auditor.url, actor="t")
        record(organization, 1)
        sequence_ledgers()
        push = LedgerWitnessPush.objects.get(witness=witness)
        stale = services.checkpoint_push_claim(push.pk)  # the worker claims it, then dies before posting
        assert stale is not None
        assert services.checkpoint_push_claim(push.pk) is None  # claimed: nobody else takes it
        assert push.pk not in services.witness_pushes_due()
        LedgerWitnessPush.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())  # the claim runs out
        assert sweep_witness_pushes()["tried"] == 1
        auditor.wait_for(1)
        # the dead worker's late answer changes nothing: the push is the later claim's
        late = services.checkpoint_push_record(stale, OutboundFailure(transient=True, detail="connection reset"))
    assert late == "delivered"
    push.refresh_from_db()
    assert (push.status, push.attempts, push.last_error) == ("delivered", 2, "")
