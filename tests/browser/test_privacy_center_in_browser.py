"""The privacy center in a real browser (Debian's Chromium, headless) against a live server on 127.0.0.1: a person
withdraws consent in the preference center (the ledger, the consent state and a stamp decision follow), a mail
provider's one-click unsubscribe POST, a GPC browser sees "Opt-Out Request Honored", scanners' HEAD and GET of every
link change nothing, and axe-core finds no WCAG 2.1 A/AA violation on any page.

Screenshots go to tests/artifacts/privacy-center/; with PROVENANT_UPDATE_SCREENSHOTS=1 also to docs/privacy-center/
(the README's pictures: commit them)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.core import mail
from django.db import connection

from consent import selectors as consent_selectors
from consent.enums import Action, CollectionMethod, ConsentStatus
from consent.models import ConsentEvent, ConsentState, Subject
from core.models import Organization
from core.services import organization_create
from core.throttling import throttle_reset
from provenance.enums import RecipientRole
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from tests.privacy_center.fixtures import EMAIL, counts, grant, make_catalog

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "privacy-center"
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
T = TypeVar("T")


def in_thread(read: Callable[[], T]) -> T:
    """Run database code outside Playwright's event loop (Django refuses database calls inside one)."""

    def run() -> T:
        try:
            return read()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=WCAG_AA)
    return [
        f"{found['id']}: {found['help']} ({len(found['nodes'])} nodes, e.g. {found['nodes'][0]['html']})"
        for found in results.response["violations"]
    ]


def check_and_capture(page: Any, artifacts: Path, name: str) -> None:
    """No WCAG 2.1 A/AA violation on the page as it stands; a full-page screenshot of it."""
    assert violations(page) == [], name
    folder = artifacts / "privacy-center"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    if os.environ.get("PROVENANT_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS / target.name)


@pytest.fixture
def acme(transactional_db: Any) -> Iterator[Organization]:
    """Acme with its catalog, Ada (DE) who gave consent to the newsletter, and a mailer recipient of it."""
    throttle_reset()
    organization = organization_create(slug="acme", name="Acme", actor="test")
    make_catalog(organization)
    grant(organization, "newsletter")
    recipient_create(
        organization=organization,
        actor="test",
        purposes=["newsletter"],
        key="mailer",
        name="Mailer",
        role=RecipientRole.PROCESSOR,
        endpoint_url="https://mailer.example.com/in",
    )
    mail.outbox = []
    yield organization
    throttle_reset()


def unsubscribe_links(organization: Organization, *purposes: str) -> list[Any]:
    """Cust-1's unsubscribe links (after a grant of each purpose), as the API hands them out."""
    subject = Subject.objects.get(external_id="cust-1")
    links = []
    for key in purposes:
        if key != "newsletter":
            grant(organization, key)
        purpose = consent_selectors.purpose_by_key(organization=organization, key=key)
        assert purpose is not None
        links.append(consent_selectors.unsubscribe_link(organization=organization, subject=subject, purpose=purpose))
    return links


def magic_link(base: str) -> str:
    match = re.search(r"http://\S+?(/privacy/acme/preferences/open/\S+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return base + match.group(1)


def ask_for_link(page: Any, base: str, artifacts: Path | None = None) -> str:
    page.goto(f"{base}/privacy/acme/")
    page.get_by_role("link", name="Your privacy choices").click()
    page.wait_for_url("**/privacy/acme/preferences/")
    if artifacts:
        check_and_capture(page, artifacts, "2-email-form")
    page.get_by_label("Your email address").fill(EMAIL)
    page.get_by_role("button", name="Send me a link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    if artifacts:
        check_and_capture(page, artifacts, "3-check-your-email")
    return magic_link(base)


def test_a_person_withdraws_consent_and_ledger_state_and_stamping_follow(
    acme: Organization, live_server: Any, artifacts: Path, browser_page: Any
) -> None:
    page, base = browser_page, live_server.url
    stamp = StampRequest(recipient="mailer", purposes=("newsletter",), subject_id="cust-1", data={"n": 1})
    assert in_thread(lambda: stamp_many(organization=acme, requests=[stamp])[0].decision) == "allow"

    # The overview: what Acme does with data.
    page.goto(f"{base}/privacy/acme/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="How Acme uses your data").is_visible()
    page.get_by_text("Notice text, version 2026-03").click()  # a <details>: opens without JavaScript
    check_and_capture(page, artifacts, "1-overview")

    # The email form, the magic link, the confirmation page.
    link = ask_for_link(page, base, artifacts)
    page.goto(link)
    page.get_by_role("heading", name="Open your privacy choices").wait_for()
    check_and_capture(page, artifacts, "4-confirm")
    page.get_by_label("Where do you live?").select_option("DE")
    page.get_by_role("button", name="Open my choices").click()
    page.wait_for_url("**/privacy/acme/preferences/manage/")
    check_and_capture(page, artifacts, "5-preferences")

    # One click withdraws.
    page.get_by_role("button", name="Withdraw consent to “Newsletter”").click()
    page.get_by_text("You withdrew your consent to “Newsletter”.").wait_for()
    assert page.get_by_role("button", name="Give consent to “Newsletter”").is_visible()
    check_and_capture(page, artifacts, "6-withdrawn")

    def ledger() -> tuple[Any, ...]:
        event = ConsentEvent.objects.select_related("source", "policy_version").latest("id")
        subject = Subject.objects.get(external_id="cust-1")
        [state] = consent_selectors.consent_state_for_subject(
            organization=acme, subject=subject, purpose_key="newsletter"
        )
        decision = stamp_many(organization=acme, requests=[stamp])[0].decision
        version = event.policy_version.version if event.policy_version else None
        return event.action, event.source.key, event.collection_method, version, state.status, decision

    assert in_thread(ledger) == (
        Action.WITHDRAW,
        "privacy_center",
        CollectionMethod.WEB_FORM,
        "2026-03",
        ConsentStatus.WITHDRAWN,
        "block",
    )


def test_a_gpc_browser_sees_the_opt_out_request_honored(
    acme: Organization, live_server: Any, artifacts: Path, browser_page: Any
) -> None:
    in_thread(lambda: grant(acme, "ads", subject_id="cust-1", jurisdiction="US-CA"))
    page, base = browser_page, live_server.url
    page.set_extra_http_headers({"Sec-GPC": "1"})
    link = ask_for_link(page, base)
    page.goto(link)
    page.get_by_label("Where do you live?").select_option("US-CA")
    page.get_by_role("button", name="Open my choices").click()
    page.wait_for_url("**/privacy/acme/preferences/manage/")
    assert page.get_by_role("heading", name="Opt-Out Request Honored").is_visible()
    check_and_capture(page, artifacts, "7-gpc-honored")

    def ads() -> tuple[str, bool]:
        state = ConsentState.objects.get(subject__external_id="cust-1", purpose__key="ads")
        return state.status, state.gpc

    assert in_thread(ads) == (ConsentStatus.WITHDRAWN, True)


def test_one_click_unsubscribe_by_post_and_the_confirmation_page(
    acme: Organization, live_server: Any, artifacts: Path, browser_page: Any
) -> None:
    one_click, by_page = in_thread(lambda: unsubscribe_links(acme, "newsletter", "ads"))
    page, base = browser_page, live_server.url
    local = (one_click.url.replace("http://127.0.0.1:8000", base), by_page.url.replace("http://127.0.0.1:8000", base))

    # A mail provider's RFC 8058 POST: no page, no cookie, the one body it sends.
    answer = page.request.post(
        local[0],
        data=one_click.list_unsubscribe_post,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 200

    def latest() -> tuple[str, str, str, str]:
        event = ConsentEvent.objects.select_related("source", "purpose").latest("id")
        return event.purpose.key, event.action, event.source.key, event.collection_method

    assert in_thread(latest) == ("newsletter", Action.WITHDRAW, "unsubscribe_link", CollectionMethod.EMAIL)

    # A person who clicks the link in the email: a page, then a POST.
    page.goto(local[1])
    check_and_capture(page, artifacts, "8-unsubscribe")
    page.get_by_role("button", name="Yes, unsubscribe me").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    check_and_capture(page, artifacts, "9-unsubscribed")
    assert in_thread(latest)[:2] == ("ads", Action.WITHDRAW)


def test_scanners_head_and_get_of_every_link_change_nothing(
    acme: Organization, live_server: Any, browser_page: Any
) -> None:
    [unsubscribe] = in_thread(lambda: unsubscribe_links(acme, "newsletter"))
    page, base = browser_page, live_server.url
    link = ask_for_link(page, base)
    before = in_thread(counts)
    links = [
        link,
        unsubscribe.url.replace("http://127.0.0.1:8000", base),
        f"{base}/privacy/acme/",
        f"{base}/privacy/acme/preferences/",
        f"{base}/privacy/acme/preferences/manage/",
        f"{base}/privacy/acme/theme.css",
    ]
    for url in links:
        for method in (page.request.head, page.request.get):
            response = method(url, headers={"Sec-GPC": "1"}, max_redirects=0)
            assert response.status in (200, 302), (url, response.status)
    assert in_thread(counts) == before
    # The magic link still opens for the person afterwards.
    page.goto(link)
    page.get_by_label("Where do you live?").select_option("DE")
    page.get_by_role("button", name="Open my choices").click()
    page.wait_for_url("**/privacy/acme/preferences/manage/")
