"""A person's access request in a real browser (Chromium, headless) against a real HTTP server on 127.0.0.1: the
form, the verification link read out of the email, the request carried out by the workflow services, the download
confirmed on the page the emailed link opens; axe-core finds no WCAG 2.1 A/AA violation on any of these pages, and
a scanner's HEAD and GET of every link change nothing. Screenshots go to tests/artifacts/privacy-center/; with
PROVENANT_UPDATE_SCREENSHOTS=1 also to docs/privacy-center/ (the README's)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.core import mail
from django.db import connection

from config.celery import app as celery_app
from consent import services as consent_services
from consent.enums import SourceKind
from core.models import AuditLogEntry, Organization
from core.services import organization_create
from core.throttling import throttle_reset
from dsar import services
from dsar.models import DataSubjectRequest, DsarExport, RequestMessage, RequestTransition
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_report_in_browser import accessibility_violations
from tests.conftest import event_input

pytestmark = pytest.mark.browser

EMAIL = "ada@example.com"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "privacy-center"
VERIFY_LINK = re.compile(r"https?://[^/\s]+(/privacy/acme/verify/\S+)")
DOWNLOAD_LINK = re.compile(r"https?://[^/\s]+(/privacy/acme/download/\S+)")
T = TypeVar("T")


def in_thread(work: Callable[[], T]) -> T:
    """Run database work outside Playwright's event loop (Django refuses database calls inside one); the thread's
    connection is closed afterwards."""

    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def counts() -> dict[str, int]:
    return {
        "requests": DataSubjectRequest.objects.count(),
        "transitions": RequestTransition.objects.count(),
        "audit": AuditLogEntry.objects.count(),
        "messages": RequestMessage.objects.count(),
        "downloads": AuditLogEntry.objects.filter(action="dsar.export_downloaded").count(),
    }


@pytest.fixture
def acme(transactional_db: Any, settings: Any) -> Iterator[Organization]:
    """Acme with a consent record of Ada's, so her export holds her data; Celery runs tasks inline (the mail of
    each step is sent in the server's thread, into Django's locmem outbox)."""
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
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield organization
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before
    throttle_reset()


def link_in_mail(pattern: re.Pattern[str]) -> str:
    found = [match.group(1) for message in mail.outbox if (match := pattern.search(message.body))]
    assert len(found) == 1, [message.subject for message in mail.outbox]
    return found[0]


def checked(page: Any, name: str) -> None:
    """No WCAG 2.1 A/AA violation on the page as it stands; its screenshot under tests/artifacts/privacy-center/,
    and with PROVENANT_UPDATE_SCREENSHOTS=1 also the README's copy under docs/privacy-center/."""
    assert accessibility_violations(page) == [], page.url
    folder = ARTIFACTS / "privacy-center"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("PROVENANT_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, SCREENSHOTS / target.name)


def scanned(page: Any, base: str, paths: list[str]) -> None:
    """What a mail scanner does: HEAD and GET every link (following redirects), with and without Accept."""
    for path in paths:
        for accept in ("*/*", "text/html", "application/json"):
            head = page.request.head(f"{base}{path}", headers={"Accept": accept})
            get = page.request.get(f"{base}{path}", headers={"Accept": accept})
            assert (head.status, get.status) == (200, 200), (path, accept, head.status, get.status)


def test_a_person_files_an_access_request_verifies_and_downloads_the_export(
    acme: Organization, live_server: Any, browser_page: Any, settings: Any
) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = live_server.url
    page = browser_page
    base = live_server.url

    # The form: first the place, then exactly the rights its law grants.
    page.goto(f"{base}/privacy/acme/requests/")
    checked(page, "requests-form-place")
    page.select_option("#field-jurisdiction", "DE")
    page.click("form[method=get] button[type=submit]")
    page.wait_for_url("**jurisdiction=DE")
    assert page.locator("input[name=type]").count() == 6
    assert page.locator("#type-opt_out_of_sale").count() == 0
    page.check("#type-access")
    page.fill("#field-email", EMAIL)
    page.fill("#field-name", "Ada Lovelace")
    checked(page, "requests-form")

    # An invalid email answers the form with the error, nothing filed.
    page.fill("#field-email", "not-an-email")
    page.click("form[method=post] button[type=submit]")
    assert "Enter a valid email address." in page.locator(".error-summary").inner_text()
    checked(page, "requests-form-error")
    assert in_thread(lambda: DataSubjectRequest.objects.count()) == 0
    page.fill("#field-email", EMAIL)
    page.check("#type-access")
    page.click("form[method=post] button[type=submit]")
    page.wait_for_selector("h1")
    assert "we received your request" in page.locator("h1").inner_text()
    checked(page, "requests-filed")

    # The email holds the verification link; a scanner opening it first changes nothing.
    verify = link_in_mail(VERIFY_LINK)
    before = in_thread(counts)
    scanned(page, base, [verify, "/api/v1/dsar/verify/" + verify.rsplit("/", 1)[1]])
    assert in_thread(counts) == before
    page.goto(f"{base}{verify}")
    assert "Opening this page changed nothing" in page.content()
    checked(page, "verify")
    page.click("form[method=post] button[type=submit]")
    page.wait_for_selector("text=Privacy request confirmed")
    checked(page, "verify-done")

    # The status link the confirmation page gives; verified, and (carried out inline) waiting for review.
    page.click("text=See where your request stands")
    page.wait_for_url("**/requests/status/**")
    status_path = page.url.removeprefix(base)
    assert "Identity confirmed" in page.locator("ol.steps").inner_text()
    assert EMAIL not in page.content()
    checked(page, "status")
    request = in_thread(lambda: DataSubjectRequest.objects.get())
    assert request.status == "awaiting_review"
    assert request.language == "en"

    # Legal approves the export: the download link is emailed; a scanner's HEAD and GET change nothing.
    def approve() -> None:
        services.dsar_transition(request=DataSubjectRequest.objects.get(), to_status="completed", actor="legal")

    in_thread(approve)
    download = link_in_mail(DOWNLOAD_LINK)
    before = in_thread(counts)
    scanned(page, base, [download, "/api/v1/dsar/exports/" + download.rsplit("/", 1)[1], status_path])
    assert in_thread(counts) == before

    # The person opens the link: a page saying what it is and until when; the download is on its button.
    page.goto(f"{base}{download}")
    expires = in_thread(lambda: DsarExport.objects.get().link_expires_at)
    assert expires is not None
    assert page.locator("time").get_attribute("datetime") == expires.isoformat()
    checked(page, "download")
    with page.expect_download() as downloaded:
        page.click("form[method=post] button[type=submit]")
    archive = zipfile.ZipFile(io.BytesIO(Path(downloaded.value.path()).read_bytes()))
    assert json.loads(archive.read("subject.json"))[0]["email"] == EMAIL
    assert in_thread(counts)["downloads"] == before["downloads"] + 1

    # The status page now says completed; a tampered link answers a clear page.
    page.goto(f"{base}{status_path}")
    assert "Completed" in page.locator("ol.steps").inner_text()
    response = page.goto(f"{base}{download[:-3]}xyz")
    assert response is not None
    assert response.status == 400
    assert "This link does not work" in page.content()
    checked(page, "link-problem")

    # In German, the form says the same.
    page.goto(f"{base}/privacy/acme/requests/?jurisdiction=US-CA&lang=de")
    assert page.locator("html").get_attribute("lang") == "de"
    assert "Meine Daten nicht verkaufen oder weitergeben" in page.content()
    checked(page, "requests-form-de")
