"""The privacy center's request pages through Django's test client on PostgreSQL: the form offers exactly the
rights of the chosen place and files through the API's services, the same answer for a known and an unknown
email, throttles, the verification, status and download pages behind the emailed links, their problem pages,
the old API routes, and a mail scanner's HEAD and GET of every link changing nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client, TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from consent.models import Purpose, Source
from consent.services import consent_record
from core.models import AuditLogEntry, Organization
from dsar import services
from dsar.models import DataSubjectRequest, DsarExport, RequestMessage, RequestTransition
from dsar.status_links import status_link_token
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem
from tests.dsar.downloads import CONFIRMATION, EXPORT_LINK, JSON, api_path, download_by_page

EMAIL = "ada@example.com"
VERIFY_LINK = re.compile(r"https?://[^/\s]+(/privacy/acme/verify/\S+)")
STATUS_LINK = re.compile(r'href="https?://[^/"]+(/privacy/acme/requests/status/[^"]+)"')
FORM = "/privacy/acme/requests/"


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_ADDRESS = "30/hour"
    settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_EMAIL = "5/hour"


@pytest.fixture(autouse=True)
def _inline_tasks() -> Iterator[None]:
    """Celery runs the real tasks inline (eager): what a worker would do (send the mail) happens here."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def counts() -> dict[str, int]:
    """Every row a page behind a link or the form could write."""
    return {
        "requests": DataSubjectRequest.objects.count(),
        "transitions": RequestTransition.objects.count(),
        "audit": AuditLogEntry.objects.count(),
        "messages": RequestMessage.objects.count(),
        "links_issued": DsarExport.objects.filter(link_issued_at__isnull=False).count(),
    }


def file_request(capture: Any, client: Client | None = None, **fields: str) -> Any:
    data = {"jurisdiction": "DE", "type": "access", "email": EMAIL, "name": "Ada Lovelace", **fields}
    with capture(execute=True):
        return (client or Client()).post(FORM, data)


def verify_path() -> str:
    found = [match.group(1) for m in mail.outbox if (match := VERIFY_LINK.search(m.body))]
    assert found, [m.subject for m in mail.outbox]
    return found[-1]


# --- the form --------------------------------------------------------------------------------------------------------


def test_the_form_offers_exactly_the_rights_of_the_chosen_place(organization: Organization) -> None:
    before = counts()

    first = Client().get(FORM).content.decode()
    germany = Client().get(FORM, {"jurisdiction": "DE"}).content.decode()
    california = Client().get(FORM, {"jurisdiction": "US-CA"}).content.decode()
    utah = Client().get(FORM, {"jurisdiction": "US-UT"}).content.decode()
    nowhere = Client().get(FORM, {"jurisdiction": "JP"})

    def offered(html: str) -> set[str]:
        return set(re.findall(r'name="type" value="([a-z_]+)"', html))

    assert 'name="jurisdiction"' in first
    assert offered(first) == set()
    assert offered(germany) == {"access", "correction", "deletion", "restrict", "portability", "object"}
    assert offered(california) == {
        "access",
        "correction",
        "deletion",
        "portability",
        "opt_out_of_sale",
        "limit_sensitive",
    }
    assert offered(utah) == {"access", "deletion", "portability", "opt_out_of_sale"}
    assert offered(nowhere.content.decode()) == set()
    assert "Choose where you live from the list." in nowhere.content.decode()
    assert counts() == before


def test_filing_goes_through_the_api_services_and_records_the_language(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    response = file_request(django_capture_on_commit_callbacks, Client(HTTP_ACCEPT_LANGUAGE="de"))

    assert response.status_code == 200
    assert response["Content-Language"] == "de"
    assert "Vielen Dank" in response.content.decode()
    request = DataSubjectRequest.objects.get()
    assert (request.channel, request.regime, request.type, request.language) == ("web_form", "gdpr", "access", "de")
    assert request.status == "identity_pending"
    assert AuditLogEntry.objects.get(action="dsar.received").actor == services.PRIVACY_CENTER_ACTOR
    assert verify_path().startswith("/privacy/acme/verify/")
    assert "/requests/status/" not in response.content.decode(), "the status link waits for the verification"


def test_the_answer_is_the_same_whether_or_not_the_email_is_known(
    organization: Organization, source: Source, purpose: Purpose, django_capture_on_commit_callbacks: Any
) -> None:
    consent_record(organization=organization, item=event_input(subject_id="cust-1", subject_email=EMAIL))

    known = file_request(django_capture_on_commit_callbacks, email=EMAIL)
    unknown = file_request(django_capture_on_commit_callbacks, email="nobody@example.com")

    def without_reference(response: Any) -> str:
        # The reference differs, and so does the theme's cache buster of an organization without saved branding.
        html = re.sub(r"[0-9A-HJKMNP-TV-Z]{26}", "ID", response.content.decode())
        return re.sub(r"\?v=\d+", "", html)

    assert (known.status_code, unknown.status_code) == (200, 200)
    assert without_reference(known) == without_reference(unknown)
    linked = dict(DataSubjectRequest.objects.values_list("subject_external_id", "type").order_by("id"))
    assert set(linked) == {"cust-1", ""}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "opt_out_of_sale"}, "Choose one of the requests offered for where you live."),
        ({"type": ""}, "Choose one of the requests offered for where you live."),
        ({"jurisdiction": "JP"}, "Choose where you live from the list."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"name": "x" * 250}, "The name is too long."),
    ],
)
def test_refused_input_answers_the_form_with_the_error_and_writes_nothing(
    organization: Organization, django_capture_on_commit_callbacks: Any, fields: dict[str, str], message: str
) -> None:
    before = counts()

    response = file_request(django_capture_on_commit_callbacks, **fields)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert counts() == before
    assert mail.outbox == []


def test_the_form_sets_no_cookie_and_files_from_a_browser_that_sends_origin_null(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    """The pages send no referrer, so Chromium posts the form with ``Origin: null``; the form needs no cookie."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(FORM, {"jurisdiction": "DE"})
    with django_capture_on_commit_callbacks(execute=True):
        filed = client.post(FORM, {"jurisdiction": "DE", "type": "access", "email": EMAIL}, HTTP_ORIGIN="null")

    assert (page.status_code, filed.status_code) == (200, 200)
    assert not page.cookies
    assert not filed.cookies
    assert DataSubjectRequest.objects.count() == 1


def test_filing_is_throttled_per_email_and_per_address(
    organization: Organization, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_EMAIL = "2/hour"
    settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_ADDRESS = "4/hour"
    statuses = [file_request(django_capture_on_commit_callbacks).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert DataSubjectRequest.objects.count() == 2

    other_emails = [
        file_request(django_capture_on_commit_callbacks, email=f"p{index}@example.com") for index in range(2)
    ]

    assert [response.status_code for response in other_emails] == [200, 429]  # the address's 4 are used up
    throttled = other_emails[-1]
    assert throttled["Retry-After"] == "3600"
    assert "Too many requests" in throttled.content.decode()
    assert DataSubjectRequest.objects.count() == 3


def test_an_opt_out_needs_no_verification_and_its_answer_links_the_status(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    response = file_request(django_capture_on_commit_callbacks, jurisdiction="US-CA", type="opt_out_of_sale")

    html = response.content.decode()
    match = STATUS_LINK.search(html)
    assert match is not None
    status = Client().get(match.group(1)).content.decode()
    assert "Completed" in status
    assert "Identity confirmed" not in status


# --- verification -----------------------------------------------------------------------------------------------------


def test_the_person_confirms_on_the_page_and_then_gets_the_status_link(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    file_request(django_capture_on_commit_callbacks)
    path = verify_path()
    before = counts()

    page = Client().get(path)
    Client().head(path)
    forged = Client().post(path, {"confirmation": "forged"})
    assert counts() == before
    confirmation = CONFIRMATION.search(page.content.decode())
    assert confirmation is not None
    with django_capture_on_commit_callbacks(execute=True):
        done = Client().post(path, {"confirmation": confirmation.group(1)})

    assert page.status_code == 200
    assert "Opening this page changed nothing" in page.content.decode()
    assert forged.status_code == 403
    assert "Please confirm again" in forged.content.decode()
    assert done.status_code == 200
    request = DataSubjectRequest.objects.get()
    assert request.transitions.filter(to_status="verified").count() == 1
    status_path = STATUS_LINK.search(done.content.decode())
    assert status_path is not None
    status = Client().get(status_path.group(1))
    assert status.status_code == 200
    html = status.content.decode()
    assert request.public_id in html
    assert "Identity confirmed" in html
    assert EMAIL not in html
    assert "Ada" not in html


def test_a_link_opened_under_another_organizations_center_is_not_found_there(
    organization: Organization, other_organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    file_request(django_capture_on_commit_callbacks)
    token = verify_path().rsplit("/", 1)[1]
    request = DataSubjectRequest.objects.get()
    before = counts()

    verify = Client().get(f"/privacy/globex/verify/{token}")
    status = Client().get(f"/privacy/globex/requests/status/{status_link_token(request.public_id)}")

    assert (verify.status_code, status.status_code) == (404, 404)
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/privacy/acme/verify/not-a-token", 400, "This link does not work"),
        ("/privacy/acme/requests/status/not-a-token", 400, "This link does not work"),
        ("/privacy/acme/download/not-a-token", 400, "This link does not work"),
        ("/api/v1/dsar/verify/not-a-token", 400, "This link does not work"),
        ("/api/v1/dsar/exports/not-a-token", 400, "This link does not work"),
    ],
)
def test_a_tampered_link_answers_a_clear_page(organization: Organization, path: str, status: int, title: str) -> None:
    response = Client().get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert title in response.content.decode()
    assert "Nothing was changed." in response.content.decode()


def test_the_old_verification_route_sends_browsers_to_the_page_and_answers_json_clients(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    file_request(django_capture_on_commit_callbacks)
    token = verify_path().rsplit("/", 1)[1]
    old = f"/api/v1/dsar/verify/{token}"
    before = counts()

    browser = Client().get(old)
    as_json = APIClient().get(old, **JSON)

    assert browser.status_code == 307
    assert browser["Location"] == f"/privacy/acme/verify/{token}"
    assert as_json.json()["confirmation"]
    assert counts() == before


# --- the export download --------------------------------------------------------------------------------------------


@pytest.fixture
def download_link(
    organization: Organization, source: Source, purpose: Purpose, django_capture_on_commit_callbacks: Any
) -> str:
    """An access request filed in the form, verified, carried out and approved: the emailed download link."""
    consent_record(organization=organization, item=event_input(subject_id="cust-1", subject_email=EMAIL))
    file_request(django_capture_on_commit_callbacks, Client(HTTP_ACCEPT_LANGUAGE="en"))
    request = DataSubjectRequest.objects.get()
    services.dsar_identity_verify(request=request, actor="legal", note="checked")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.dsar_transition(request=request, to_status="completed", actor="legal")
    found = [match.group(1) for m in mail.outbox if (match := EXPORT_LINK.search(m.body))]
    assert len(found) == 1
    return found[0]


def test_the_download_page_says_what_it_is_and_only_its_post_downloads(download_link: str) -> None:
    before = counts()

    page = Client().get(download_link)
    head = Client().head(download_link)
    forged = Client().post(download_link, {"confirmation": "forged"})
    assert counts() == before
    downloaded = download_by_page(download_link)

    html = page.content.decode()
    export = DsarExport.objects.get()
    assert (page.status_code, head.status_code, forged.status_code) == (200, 200, 403)
    assert "Download your data" in html
    assert export.link_expires_at is not None
    assert f'datetime="{export.link_expires_at.isoformat()}"' in html
    assert downloaded.status_code == 200
    assert downloaded["Content-Type"] == "application/zip"
    assert bytes(downloaded.content).startswith(b"PK")
    assert AuditLogEntry.objects.filter(action="dsar.export_downloaded").count() == 1


def test_expired_and_purged_links_answer_clear_pages_and_problem_json(download_link: str) -> None:
    export = DsarExport.objects.get()
    DsarExport.objects.filter(pk=export.pk).update(link_expires_at=timezone.now() - timedelta(seconds=1))
    before = counts()

    expired_page = Client().get(download_link)
    expired_api = APIClient().get(api_path(download_link), **JSON)
    services.dsar_exports_purge(now=timezone.now() + timedelta(days=400))
    purged_page = Client().get(download_link)
    purged_api = APIClient().post(api_path(download_link), {"confirmation": "x"}, format="json", **JSON)

    assert expired_page.status_code == 410
    assert "This download link has expired" in expired_page.content.decode()
    assert_problem(expired_api, 410, "export-link-expired")
    assert purged_page.status_code == 410
    assert "This copy of your data was deleted" in purged_page.content.decode()
    assert_problem(purged_api, 410, "export-purged")
    assert counts()["audit"] == before["audit"] + 1  # the purge's own audit row, no download


def test_the_old_download_route_never_downloads_on_get(download_link: str) -> None:
    old = api_path(download_link)
    before = counts()

    browser = Client().get(old)
    head = Client().head(old)
    as_json = APIClient().get(old, **JSON)
    unconfirmed = APIClient().post(old, {}, format="json", **JSON)

    assert (browser.status_code, head.status_code) == (307, 307)
    assert browser["Location"] == download_link
    body = as_json.json()
    assert set(body) == {"request_id", "export_id", "expires_at", "size_bytes", "files", "confirmation", "detail"}
    assert_problem(unconfirmed, 403, "export-confirmation-invalid")
    assert counts() == before
    confirmed = APIClient().post(old, {"confirmation": body["confirmation"]}, format="json", **JSON)
    assert confirmed.status_code == 200
    assert confirmed["Content-Type"] == "application/zip"
    assert AuditLogEntry.objects.filter(action="dsar.export_downloaded").count() == 1


# --- a mail scanner -------------------------------------------------------------------------------------------------


def test_a_scanners_head_and_get_of_every_link_change_nothing(
    download_link: str, django_capture_on_commit_callbacks: Any
) -> None:
    file_request(django_capture_on_commit_callbacks, email="grace@example.com")
    verify = verify_path()
    pending = DataSubjectRequest.objects.get(status="identity_pending")
    links = [
        verify,
        f"/api/v1/dsar/verify/{verify.rsplit('/', 1)[1]}",
        f"/privacy/acme/requests/status/{status_link_token(pending.public_id)}",
        download_link,
        api_path(download_link),
    ]
    before = counts()
    scanner: Callable[..., Any]

    for link in links:
        for scanner in (Client().head, Client().get):
            for accept in ("*/*", "text/html", "application/json"):
                response = scanner(link, HTTP_ACCEPT=accept, follow=True)
                assert response.status_code == 200, (link, accept, response.status_code)

    assert counts() == before
    pending.refresh_from_db()
    assert pending.status == "identity_pending"
    assert not AuditLogEntry.objects.filter(action="dsar.export_downloaded").exists()
