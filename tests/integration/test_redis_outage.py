"""Redis stopped (issue #15): with the broker down, consent writes and DSAR intake over HTTP still succeed and the
work whose message was lost runs once Redis is back, found again by beat's sweeps: the requester's verification
email within a minute (the identity sweep, every minute by default), an opt-out request's fulfilment (the stuck
sweep).

Everything here is real: a redis-server of the test's own (stopped and restarted), gunicorn on 127.0.0.1, a Celery
worker and Celery beat. Beat's DSAR sweep period and the quiet time before a request counts as stuck are shortened
through the environment (defaults 60 s and 2 min, see config/settings/base.py) so the test takes seconds."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consent.models import ConsentEvent, Purpose, Source
from core.models import Organization
from core.services import api_key_create
from dsar.models import DataSubjectRequest, RequestMessage
from tests.conftest import event_body
from tests.integration.conftest import CeleryWorker, mail_dir, wait_until, worker_mail
from tests.integration.faults import CeleryBeat, RedisServer, WebServer, process_env

LINK = re.compile(r"https?://[^/\s]+/privacy/acme/verify/\S+")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Requested first by the test, so it is torn down last (the queue fixture purges its queue on it)."""
    server = RedisServer(tmp_path).start()
    yield server
    if server.process is None or server.process.poll() is not None:
        server.start()  # the queue fixture's clean-up talks to it
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_redis_down_consent_and_dsar_intake_succeed_and_queued_work_runs_when_it_is_back(
    own_redis: RedisServer,
    celery_worker_factory: Callable[[], CeleryWorker],
    task_queue: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    organization: Organization,
    source: Source,
    purpose: Purpose,
    tmp_path: Path,
) -> None:
    settings.CELERY_BROKER_URL = own_redis.url  # the worker the factory starts uses the test's own Redis
    monkeypatch.setenv("PROVENANT_DSAR_FULFIL_STUCK_MINUTES", "0.05")  # 3 s quiet counts as stuck (default 2 min)
    _, key = api_key_create(
        organization=organization,
        name="outage",
        scopes=["consent:read", "consent:write", "dsar:read", "dsar:write"],
        actor="test",
    )
    env = process_env(broker_url=own_redis.url, queue=task_queue, mail_dir=mail_dir(tmp_path))
    web = WebServer(tmp_path, env)
    worker = celery_worker_factory().start()
    # Sweep periods scaled down (defaults: identity 60 s, stuck 60 s): the bound shown is "within a minute".
    beat = CeleryBeat(
        tmp_path, {**env, "PROVENANT_DSAR_RESUME_SWEEP_SECONDS": "1", "PROVENANT_DSAR_IDENTITY_SWEEP_SECONDS": "5"}
    )
    headers = {"Authorization": f"Bearer {key}"}
    try:
        beat.start()
        own_redis.stop()

        # Given the broker is down, when clients write consent and file requests over HTTP:
        with httpx.Client(base_url=web.url, headers=headers, timeout=30) as client:
            statuses = [
                client.post("/api/v1/consent-events", json=event_body(subject_id=f"cust-{i}")).status_code
                for i in range(20)
            ]
            state = client.get("/api/v1/subjects/cust-3/consent")
            access = client.post(
                "/api/v1/dsar",
                json={"type": "access", "jurisdiction": "DE", "subject_id": "cust-1", "requester": {"email": "a@x.io"}},
            )
            opt_out = client.post(
                "/api/v1/dsar", json={"type": "opt_out_of_sale", "jurisdiction": "US-CA", "subject_id": "cust-2"}
            )

        # then every call succeeded and was stored,
        assert statuses == [201] * 20, web.log()
        assert state.status_code == 200
        assert ConsentEvent.objects.filter(organization=organization).count() == 20
        assert access.status_code == 201, access.content
        assert opt_out.status_code == 201, opt_out.content
        request = DataSubjectRequest.objects.get(public_id=access.json()["id"])
        assert request.status == "identity_pending"
        # The lost messages (the link's, the opt-out's fulfilment) wait: nothing is sent, the opt-out in progress.
        opted_out = DataSubjectRequest.objects.get(public_id=opt_out.json()["id"])
        assert opted_out.status == "in_progress"

        # When Redis is back (empty: nothing it held survived), beat's sweeps find the lost work and it runs:
        own_redis.start()
        back = time.monotonic()
        # the verification email within a minute (the identity sweep runs every minute by default),
        emails = wait_until(lambda: [m for m in worker_mail(tmp_path) if LINK.search(m)], timeout=60)
        assert time.monotonic() - back <= 60
        assert len(emails) == 1
        # The worker hands the email to the mail backend, then marks its message sent (a moment later):
        sent = RequestMessage.objects.filter(request=request, kind="identity.link", status="sent")
        assert wait_until(lambda: sent.count() == 1, timeout=15)

        # and the opt-out's fulfilment (the stuck sweep).
        def completed() -> bool:
            opted_out.refresh_from_db()
            return opted_out.status == "completed"

        wait_until(completed, timeout=90, interval=0.5)
        assert worker.results("dsar.tasks.fulfil"), worker.log()
        assert "Traceback" not in web.log()
    finally:
        beat.stop()
        web.stop()
