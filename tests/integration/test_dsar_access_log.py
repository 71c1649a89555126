"""Security audit item 5 (the DSAR part), through the real access log: gunicorn with config/gunicorn.py and
production settings on 127.0.0.1, serving the test database. A requester opens a real verification link,
confirms on its page and downloads a real export over its signed link; the log (access lines and the app's own
lines) holds none of the tokens, the page's confirmation value or the requester's address."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.core import mail

from core.models import Organization
from dsar import services
from dsar.identity_links import identity_link_token
from dsar.models import DataSubjectRequest
from tests.dsar.downloads import EXPORT_LINK
from tests.integration.conftest import test_database_url as database_url

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "ada.requester@example.com"
CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')
HTTPS = {"X-Forwarded-Proto": "https"}  # from the trusted proxy (127.0.0.1): served, not redirected


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Front:
    """gunicorn as production runs it, sharing this process's keys (so the tokens signed here open there)."""

    def __init__(self, tmp_path: Path, queue: str) -> None:
        self.port = _free_port()
        self.log_path = tmp_path / f"gunicorn-{self.port}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
            "PROVENANT_MASTER_KEY": django_settings.PROVENANT_MASTER_KEY,
            "PROVENANT_BLIND_INDEX_KEY": django_settings.PROVENANT_BLIND_INDEX_KEY,
            "DATABASE_URL": database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
            "CELERY_TASK_DEFAULT_QUEUE": queue,  # what the confirmation enqueues goes to this test's own queue
            "GUNICORN_FORWARDED_ALLOW_IPS": "127.0.0.1",
            # What production settings require besides the secrets (issue #15): a delivering email backend (nothing
            # is sent here), a public https address and a shared Redis cache.
            "EMAIL_URL": "smtp://127.0.0.1:25",
            "PROVENANT_PUBLIC_BASE_URL": "https://privacy.example.test",
            "REDIS_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15"),
            "WEB_CONCURRENCY": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"),
            "--bind", f"127.0.0.1:{self.port}", "config.wsgi:application",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"gunicorn did not start:\n{self.log()}") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture
def front(transactional_db: Any, task_queue: str, tmp_path: Path) -> Iterator[Front]:
    server = Front(tmp_path, task_queue)
    try:
        yield server
    finally:
        server.stop()


def _request(organization: Organization, request_type: str) -> DataSubjectRequest:
    return services.dsar_create(
        organization=organization,
        request_type=request_type,
        channel="api",
        actor="test",
        jurisdiction="DE",
        subject_external_id="cust-1",
        requester=services.Requester(email=EMAIL),
    )


@pytest.mark.django_db(transaction=True)
def test_verification_and_download_tokens_never_reach_the_log(
    front: Front, organization: Organization, settings: Any
) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    # An access request whose export legal approved: the one download link is emailed.
    access = _request(organization, "access")
    services.dsar_identity_verify(request=access, actor="legal", note="passport")
    services.dsar_fulfil_run(request_id=access.pk)
    access.refresh_from_db()
    services.dsar_transition(request=access, to_status="completed", actor="legal")
    match = EXPORT_LINK.search(next(m.body for m in mail.outbox if "is ready" in m.subject))
    assert match is not None
    download_path = match.group(1)
    download_token = download_path.rsplit("/", 1)[1]
    # A deletion request waiting for its requester.
    deletion = _request(organization, "deletion")
    verify_token = identity_link_token(deletion.public_id)
    verify_path = f"/api/v1/dsar/verify/{verify_token}"

    # The API route sends a browser on to the privacy center page (307 keeps a form's POST).
    page = httpx.get(f"{front.url}{verify_path}", headers=HTTPS, follow_redirects=True)
    confirmation = CONFIRMATION.search(page.text)
    assert page.status_code == 200, page.text[:300]
    assert confirmation is not None
    forged = httpx.post(
        f"{front.url}{verify_path}", data={"confirmation": "forged"}, headers=HTTPS, follow_redirects=True
    )
    confirmed = httpx.post(
        f"{front.url}{verify_path}",
        data={"confirmation": confirmation.group(1)},
        headers=HTTPS,
        follow_redirects=True,
    )
    download_page = httpx.get(f"{front.url}{download_path}", headers={**HTTPS, "Referer": f"{front.url}{verify_path}"})
    download_confirmation = CONFIRMATION.search(download_page.text)
    assert download_confirmation is not None
    downloaded = httpx.post(
        f"{front.url}{download_path}", data={"confirmation": download_confirmation.group(1)}, headers=HTTPS
    )
    typo = httpx.get(f"{front.url}/api/v1/dsar/verify-typo/{verify_token}", headers=HTTPS)

    assert confirmed.status_code == 200, confirmed.text[:300]
    assert forged.status_code == 403
    assert downloaded.status_code == 200
    assert downloaded.content.startswith(b"PK")
    assert typo.status_code == 404
    deletion.refresh_from_db()
    assert deletion.status == "in_progress", "verified; the erasure waits for legal"
    deadline = time.monotonic() + 5
    while front.log().count('"POST ') < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = front.log()
    assert log.count('"GET ') >= 3, log
    assert log.count('"POST ') >= 5, log
    assert "/api/v1/dsar/verify/{token}" in log
    assert "/privacy/{slug}/verify/{token}" in log
    assert "/privacy/{slug}/download/{token}" in log
    for secret in (verify_token, download_token, confirmation.group(1), download_confirmation.group(1), EMAIL):
        assert secret not in log
    for part in (verify_token.split(":")[0], download_token.split(":")[0]):  # not even the payload half
        assert part not in log
