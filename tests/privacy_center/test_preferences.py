"""The overview and the preference center on PostgreSQL: the magic link (same answer for every email, throttled,
single use, scanner-safe), and each choice as a ledger event (source privacy_center, method web_form, the notice
version shown, the browser's GPC) that the consent state and a stamp decision follow."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from consent import selectors as consent_selectors
from consent.enums import Action, CollectionMethod, ConsentStatus
from consent.models import ConsentEvent, ConsentState, GpcSignalReceipt, PreferenceLink, Subject
from consent.services import policy_version_create, subject_erase, subject_suppress
from core.models import Organization
from core.problems import InvalidInput
from provenance.enums import RecipientRole
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from tests.privacy_center.fixtures import (
    EMAIL,
    NOTICE,
    Catalog,
    counts,
    grant,
    hidden,
    make_catalog,
    open_preferences,
    request_link,
)

pytestmark = pytest.mark.django_db

MANAGE = "/privacy/acme/preferences/manage/"


@pytest.fixture
def catalog(organization: Organization) -> Catalog:
    return make_catalog(organization)


def withdraw(client: Client, purpose: str, version: str = "", **headers: Any) -> Any:
    return client.post(MANAGE, {"purpose": purpose, "action": "withdraw", "version": version}, **headers)


def give(client: Client, purpose: str, version: str = "", **headers: Any) -> Any:
    return client.post(MANAGE, {"purpose": purpose, "action": "give", "version": version}, **headers)


# ----------------------------------------------------------------------------------------------- overview


def test_the_overview_shows_each_purpose_with_its_notice_basis_retention_and_recipients(
    client: Client, catalog: Catalog
) -> None:
    html = client.get("/privacy/acme/").content.decode()
    assert "Newsletter" in html
    assert "2026-03" in html
    assert NOTICE in html  # the notice text the hash pins
    assert "Until you withdraw, then 30 days" in html
    assert "Email delivery provider" in html
    assert "Customer support" in html
    assert "Legitimate interest (Art. 6(1)(f))" in html
    assert "a GPC signal opts you out of it" in html  # the ads purpose
    assert "wherever you live" in html  # the organization honors GPC everywhere (the default)


def test_a_notice_text_must_hash_to_the_pinned_digest(organization: Organization, catalog: Catalog) -> None:
    with pytest.raises(InvalidInput) as refused:
        policy_version_create(
            purpose=catalog.newsletter,
            actor="test",
            version="2026-04",
            notice_sha256="0" * 64,
            notice_text="A different text",
            effective_at=timezone.now(),
        )
    assert refused.value.extra["errors"][0]["pointer"] == "/notice_text"


# ----------------------------------------------------------------------------------------------- the magic link


def scrub(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_known_and_unknown_emails_get_the_same_answer_and_no_pii_in_the_link(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    grant(organization, "newsletter")
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post("/privacy/acme/preferences/", {"email": EMAIL})
        unknown = client.post("/privacy/acme/preferences/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert scrub(known.content.decode()) == scrub(unknown.content.decode())
    assert [message.to for message in mail.outbox] == [[EMAIL], ["nobody@example.com"]]
    for message in mail.outbox:
        assert "Acme" in message.subject
        link = re.search(r"http\S+/preferences/open/\S+/", message.body)
        assert link
        assert "example.com" not in link.group(0)
        assert "ada" not in link.group(0)
    link_rows = PreferenceLink.objects.all()
    assert link_rows.count() == 2
    assert all("@" not in row.email_sealed and row.email_index for row in link_rows)


def test_the_email_form_is_throttled_per_email_and_per_address(
    client: Client, catalog: Catalog, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_EMAIL = "2/hour"
    settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_ADDRESS = "4/hour"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post("/privacy/acme/preferences/", {"email": EMAIL}).status_code for _ in range(3)]
        other = client.post("/privacy/acme/preferences/", {"email": "grace@example.com"}, REMOTE_ADDR="203.0.113.9")
        more = [client.post("/privacy/acme/preferences/", {"email": f"p{n}@example.com"}).status_code for n in range(3)]
    assert answers == [200, 200, 429]  # the email's limit
    assert other.status_code == 200
    assert more == [200, 429, 429]  # the address's limit (4 from 127.0.0.1)
    assert len(mail.outbox) == 4
    assert PreferenceLink.objects.count() == 4


def test_a_bad_email_is_a_400_that_sends_nothing(client: Client, catalog: Catalog) -> None:
    response = client.post("/privacy/acme/preferences/", {"email": "not an email"})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert not mail.outbox
    assert not PreferenceLink.objects.exists()


def test_a_scanner_opening_the_link_changes_nothing(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    grant(organization, "newsletter")
    path = request_link(client, django_capture_on_commit_callbacks)
    before = counts()
    scanner = Client()
    assert scanner.head(path).status_code == 200
    assert scanner.get(path).status_code == 200
    assert scanner.get(path, HTTP_SEC_GPC="1").status_code == 200
    assert scanner.post(path, {}).status_code == 400  # no confirmation from the page
    assert counts() == before
    assert open_preferences(client, path).status_code == 302  # the link still works for the person


def test_the_link_works_once(client: Client, catalog: Catalog, django_capture_on_commit_callbacks: Any) -> None:
    path = request_link(client, django_capture_on_commit_callbacks)
    page = client.get(path).content.decode()
    confirmation = hidden(page, "confirmation")
    first = client.post(path, {"confirmation": confirmation, "jurisdiction": "DE"})
    assert first.status_code == 302
    assert first["Location"] == MANAGE
    again = Client().post(path, {"confirmation": confirmation, "jurisdiction": "DE"})
    assert again.status_code == 410
    assert Client().get(path).status_code == 410


def test_an_expired_or_forged_link_opens_nothing(
    client: Client, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    path = request_link(client, django_capture_on_commit_callbacks)
    assert client.get(path[:-3] + "xx/").status_code == 400
    PreferenceLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(path).status_code == 410
    assert client.get(MANAGE).status_code == 302  # no session


def test_a_session_belongs_to_one_organization(
    client: Client,
    organization: Organization,
    other_organization: Organization,
    catalog: Catalog,
    django_capture_on_commit_callbacks: Any,
) -> None:
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks))
    assert client.get(MANAGE).status_code == 200
    assert client.get("/privacy/globex/preferences/manage/").status_code == 302
    client.post("/privacy/acme/preferences/sign-out/")
    assert client.get(MANAGE).status_code == 302


# ----------------------------------------------------------------------------------------------- choices


def test_a_withdrawal_is_a_ledger_event_that_state_and_stamping_follow(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
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
    stamp = StampRequest(recipient="mailer", purposes=("newsletter",), subject_id="cust-1", data={"n": 1})
    assert stamp_many(organization=organization, requests=[stamp])[0].decision == "allow"
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks))
    page = client.get(MANAGE).content.decode()
    assert "Withdraw consent to “Newsletter”" in page
    response = withdraw(client, "newsletter", "2026-03")
    assert response.status_code == 302
    event = ConsentEvent.objects.select_related("source", "policy_version").latest("id")
    assert (event.action, event.source.key, event.collection_method) == (
        Action.WITHDRAW,
        "privacy_center",
        CollectionMethod.WEB_FORM,
    )
    assert event.policy_version is not None
    assert event.policy_version.version == "2026-03"
    assert event.gpc is False
    assert event.jurisdiction == "DE"
    subject = Subject.objects.get(external_id="cust-1")
    [state] = consent_selectors.consent_state_for_subject(
        organization=organization, subject=subject, purpose_key="newsletter"
    )
    assert state.status == ConsentStatus.WITHDRAWN
    assert not state.permitted
    assert stamp_many(organization=organization, requests=[stamp])[0].decision == "block"
    after = client.get(MANAGE).content.decode()
    assert "You withdrew your consent to “Newsletter”." in after
    assert "Give consent to “Newsletter”" in after
    withdraw(client, "newsletter", "2026-03")  # a double click
    assert ConsentEvent.objects.filter(action=Action.WITHDRAW).count() == 1


def test_a_new_person_becomes_a_subject_keyed_without_pii(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks, "new@example.com"))
    assert not Subject.objects.exists()  # opening changes nothing yet
    give(client, "newsletter", "2026-03")
    subject = Subject.objects.get()
    assert subject.external_id.startswith("email-")
    assert "example" not in subject.external_id
    assert subject.email_index
    assert "@" not in subject.email_sealed
    assert consent_selectors.subject_email(subject) == "new@example.com"
    event = ConsentEvent.objects.get()
    assert (event.action, event.explicit_confirmation, event.source.key) == (Action.GRANT, True, "privacy_center")
    # The same person, another link: the same subject, now allowed.
    client.post("/privacy/acme/preferences/sign-out/")
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks, "New@Example.com"))
    assert "Withdraw consent to “Newsletter”" in client.get(MANAGE).content.decode()
    assert Subject.objects.count() == 1


def test_a_choice_reaches_every_subject_with_that_email(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    grant(organization, "newsletter", subject_id="cust-1")
    grant(organization, "newsletter", subject_id="crm-77")
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks))
    withdraw(client, "newsletter", "2026-03")
    assert set(ConsentState.objects.values_list("subject__external_id", "status")) == {
        ("cust-1", ConsentStatus.WITHDRAWN),
        ("crm-77", ConsentStatus.WITHDRAWN),
    }


def test_a_forged_choice_changes_nothing(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    grant(organization, "newsletter")
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks))
    before = counts()
    for data in (
        {"purpose": "nope", "action": "withdraw"},
        {"purpose": "newsletter", "action": "delete-everything"},
        {"purpose": "newsletter", "action": "withdraw", "version": "1999"},
    ):
        assert client.post(MANAGE, data).status_code == 302
    assert counts() == before
    assert Client().post(MANAGE, {"purpose": "newsletter", "action": "withdraw"}).status_code == 302  # no session
    assert counts() == before


def test_a_gpc_browser_is_honored_and_sees_the_notice(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    grant(organization, "ads", jurisdiction="US-CA")
    grant(organization, "newsletter", jurisdiction="US-CA")
    path = request_link(client, django_capture_on_commit_callbacks)
    open_preferences(client, path, jurisdiction="US-CA", HTTP_SEC_GPC="1")
    page = client.get(MANAGE, HTTP_SEC_GPC="1").content.decode()
    assert '<h2 id="gpc-status-heading" class="notice-honored" lang="en">Opt-Out Request Honored</h2>' in page
    receipt = GpcSignalReceipt.objects.get(subject__external_id="cust-1")
    assert receipt.is_honored
    assert receipt.is_legally_required
    assert receipt.purposes_opted_out == ["ads"]
    ads = ConsentState.objects.get(purpose__key="ads")
    assert ads.status == ConsentStatus.WITHDRAWN
    assert ads.gpc
    assert "opted out by your Global Privacy Control signal" in page
    withdraw(client, "newsletter", "2026-03", HTTP_SEC_GPC="1")
    event = ConsentEvent.objects.filter(source__key="privacy_center").get()
    assert event.gpc is True


def test_without_gpc_there_is_no_honored_notice(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    grant(organization, "ads", jurisdiction="US-CA")
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks), jurisdiction="US-CA")
    assert "Opt-Out Request Honored" not in client.get(MANAGE).content.decode()
    assert not GpcSignalReceipt.objects.exists()


def test_german_pages(client: Client, catalog: Catalog, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post("/privacy/acme/preferences/", {"email": EMAIL}, HTTP_ACCEPT_LANGUAGE="de")
    assert "Sehen Sie in Ihr E-Mail-Postfach" in page.content.decode()
    assert mail.outbox[-1].subject == "Ihr Link zu Ihren Datenschutz-Einstellungen bei Acme"
    assert "Er funktioniert einmal" in mail.outbox[-1].body


def test_an_erased_person_is_not_made_again(
    client: Client, organization: Organization, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    grant(organization, "newsletter")
    subject_erase(subject=Subject.objects.get(external_id="cust-1"), actor="test")
    subject_suppress(organization=organization, identifiers={"email": [EMAIL], "external_id": ["cust-1"]}, actor="t")
    open_preferences(client, request_link(client, django_capture_on_commit_callbacks), HTTP_SEC_GPC="1")
    before = counts()
    give(client, "newsletter", "2026-03")
    assert counts() == before
    assert "That choice could not be recorded." in client.get(MANAGE).content.decode()
    assert Subject.objects.count() == 1  # only the erased one


def test_the_purge_task_deletes_expired_links_once(
    client: Client, catalog: Catalog, django_capture_on_commit_callbacks: Any
) -> None:
    from consent.tasks import purge_preference_links

    request_link(client, django_capture_on_commit_callbacks)
    request_link(client, django_capture_on_commit_callbacks, "grace@example.com")
    PreferenceLink.objects.filter(pk=PreferenceLink.objects.earliest("id").pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert purge_preference_links() == {"deleted": 1}
    assert purge_preference_links() == {"deleted": 0}
    assert PreferenceLink.objects.count() == 1
