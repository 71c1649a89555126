"""A letter-received access request walked through the admin in a real browser (Debian's Chromium, headless) against
a real HTTP server on 127.0.0.1 (issue #14): intake on the add form (channel mail, the subject chosen by typing the
person's email into the autocomplete), Verify and Approve from the request page's own buttons (the approve step
previews the export's files and the masked address), then the requester's email with the download link, the link
opened and the export downloaded. Celery runs the tasks inline (eager), in the server's thread; the mail goes to
Django's locmem outbox. Screenshots go to tests/artifacts/dsar-admin/."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from config.celery import app as celery_app
from consent import services as consent_services
from consent.enums import SourceKind
from core.models import Organization
from core.services import organization_create
from core.throttling import throttle_reset
from dsar.models import DataSubjectRequest
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_privacy_center_requests import in_thread
from tests.conftest import event_input

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"
PASSWORD = "legal-team-pw-2026"
DOWNLOAD_LINK = re.compile(r"https?://[^/\s]+(/privacy/acme/download/\S+)")


@pytest.fixture
def acme(transactional_db: Any, django_user_model: Any) -> Iterator[Organization]:
    """Acme with Ada in its ledger (external id cust-1, her email sealed), a superuser of the legal team, and Celery
    running tasks inline."""
    throttle_reset()
    organization = organization_create(slug="acme", name="Acme", actor="test")
    consent_services.source_create(
        organization=organization, actor="test", key="web-signup", name="Signup form", kind=SourceKind.WEB_FORM
    )
    consent_services.purpose_create(
        organization=organization, actor="test", key="marketing-email", name="Marketing email"
    )
    consent_services.consent_record(
        organization=organization, item=event_input(subject_id="cust-1", subject_email=EMAIL)
    )
    django_user_model.objects.create_superuser("legal", "legal@example.com", PASSWORD)
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield organization
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before
    throttle_reset()


def shot(page: Any, name: str) -> None:
    folder = ARTIFACTS / "dsar-admin"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_letter_walks_from_intake_in_the_admin_to_the_requesters_download(
    acme: Organization, live_server: Any, browser_page: Any, settings: Any
) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = live_server.url
    page = browser_page
    base = live_server.url
    page.set_viewport_size({"width": 1366, "height": 768})

    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "legal")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    # Intake: the letter arrived yesterday; the subject is found by typing the email (its blind index).
    page.goto(f"{base}/admin/dsar/datasubjectrequest/add/")
    page.select_option("#id_organization", str(acme.pk))
    page.select_option("#id_type", "access")
    page.fill("#id_jurisdiction", "DE")
    page.select_option("#id_channel", "mail")
    yesterday = timezone.localtime() - timedelta(days=1)
    page.fill("#id_received_at_0", yesterday.date().isoformat())
    page.fill("#id_received_at_1", "09:30:00")
    page.fill("#id_requester_email", EMAIL)
    page.fill("#id_requester_name", "Ada Lovelace")
    page.click("#id_subject + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", EMAIL)
    option = page.locator(".select2-results__option", has_text="cust-1")
    option.wait_for()
    shot(page, "intake-autocomplete")
    option.click()
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/dsar/datasubjectrequest/")

    request = in_thread(lambda: DataSubjectRequest.objects.select_related("subject").get())
    assert (request.channel, request.subject_external_id) == ("mail", "cust-1")
    assert request.subject is not None
    assert request.status == "identity_pending"  # a requester address: the identity link went out
    change = f"{base}/admin/dsar/datasubjectrequest/{request.pk}/change/"

    # The request page: linked to its subject; legal verifies by hand (the ID was enclosed with the letter).
    page.goto(change)
    assert page.locator("#dsar-subject-link").inner_text() == "cust-1"
    shot(page, "request-page")
    page.click("a.dsar-tool:text-is('Verify')")
    page.fill("#id_note", "Copy of passport enclosed with the letter")
    page.click("input[type=submit][value=Verify]")
    page.wait_for_url(change)
    status = in_thread(lambda: DataSubjectRequest.objects.get().status)
    assert status == "awaiting_review"  # verified, exported (inline), waiting for legal's approval

    # Approve: the preview shows what goes out, and to whom (masked).
    page.click("a.dsar-tool:text-is('Approve')")
    preview = page.locator(".dsar-approval-preview")
    assert "To: a***@example.com" in preview.inner_text()
    files = preview.locator(".dsar-export-files td").all_inner_texts()
    assert "subject.json" in files
    assert "consent records" in preview.locator(".dsar-export-categories").inner_text()
    assert EMAIL not in page.content()
    shot(page, "approve-preview")
    mail.outbox.clear()
    page.click("input[type=submit][value='Approve and send']")
    page.wait_for_url(change)
    assert in_thread(lambda: DataSubjectRequest.objects.get().status) == "completed"

    # The requester's email holds the download link; following it downloads the export.
    sent = [message for message in mail.outbox if DOWNLOAD_LINK.search(message.body)]
    assert [message.to for message in sent] == [[EMAIL]]
    match = DOWNLOAD_LINK.search(sent[0].body)
    assert match is not None
    page.goto(f"{base}{match.group(1)}")
    with page.expect_download() as downloaded:
        page.click("form[method=post] button[type=submit]")
    archive = zipfile.ZipFile(io.BytesIO(Path(downloaded.value.path()).read_bytes()))
    profile = json.loads(archive.read("subject.json"))
    assert profile[0]["external_id"] == "cust-1"
    assert profile[0]["email"] == EMAIL
