"""Requester messages leave through the worker (issue #16): an API intake answers without talking to a mail server;
the receipt waits, queued, until a worker sends it; the web process sends nothing itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.models import Organization
from core.services import api_key_create
from dsar.models import DataSubjectRequest, RequestMessage
from tests.integration.conftest import CeleryWorker, wait_until, worker_mail
from tests.integration.faults import WebServer, process_env


@pytest.mark.django_db(transaction=True)
def test_the_intake_queues_the_receipt_and_only_the_worker_sends_it(
    celery_worker_factory: Callable[[], CeleryWorker],
    task_queue: str,
    settings: Any,
    organization: Organization,
    tmp_path: Path,
) -> None:
    _, key = api_key_create(organization=organization, name="m", scopes=["dsar:read", "dsar:write"], actor="test")
    web_mail = tmp_path / "web-mail"
    env = process_env(broker_url=settings.CELERY_BROKER_URL, queue=task_queue, mail_dir=web_mail)
    web = WebServer(tmp_path, env)
    try:
        # Given no worker runs yet, when a request is filed over the API with a requester address,
        with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            answer = client.post(
                "/api/v1/dsar",
                json={"type": "access", "jurisdiction": "DE", "subject_id": "cust-7", "requester": {"email": "a@x.io"}},
            )
        assert answer.status_code == 201, answer.content
        request = DataSubjectRequest.objects.get(public_id=answer.json()["id"])
        # then the receipt is queued, not sent, and the web process wrote no mail;
        receipt = RequestMessage.objects.get(request=request, kind="receipt")
        assert receipt.status == "pending"
        assert not web_mail.exists() or not list(web_mail.iterdir())

        # when a worker starts, it sends the receipt (and the verification link) from the queue.
        celery_worker_factory().start()
        wait_until(lambda: RequestMessage.objects.get(pk=receipt.pk).status == "sent", timeout=60)
        sent = worker_mail(tmp_path)
        assert any(request.public_id in message for message in sent), sent
        assert not web_mail.exists() or not list(web_mail.iterdir())
    finally:
        web.stop()
