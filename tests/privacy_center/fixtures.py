"""A small catalog and a known person for the privacy-center tests, built through the services."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import mail
from django.test import Client
from django.utils import timezone

from consent import services as consent_services
from consent.enums import LawfulBasis, SourceKind
from consent.models import ConsentEvent, ConsentState, PolicyVersion, PreferenceLink, Purpose, Subject
from core.models import AuditLogEntry, Organization

EMAIL = "ada@example.com"
NOTICE = "We send you our newsletter twice a month. You can withdraw at any time."
LINK_PATTERN = re.compile(r"https?://\S+/privacy/[a-z0-9-]+/preferences/open/\S+/")


@dataclass
class Catalog:
    newsletter: Purpose
    ads: Purpose
    fraud: Purpose
    newsletter_version: PolicyVersion


def make_catalog(organization: Organization) -> Catalog:
    consent_services.source_create(
        organization=organization, actor="test", key="web-signup", name="Signup form", kind=SourceKind.WEB_FORM
    )
    newsletter = consent_services.purpose_create(
        organization=organization,
        actor="test",
        key="newsletter",
        name="Newsletter",
        description="News about our products by email.",
        retention="Until you withdraw, then 30 days",
        recipient_categories="Email delivery provider\nCustomer support",
    )
    ads = consent_services.purpose_create(
        organization=organization,
        actor="test",
        key="ads",
        name="Personalised advertising",
        is_sale_or_sharing=True,
        is_targeted_advertising=True,
    )
    fraud = consent_services.purpose_create(
        organization=organization,
        actor="test",
        key="fraud-prevention",
        name="Fraud prevention",
        legal_basis=LawfulBasis.LEGITIMATE_INTEREST,
    )
    version = consent_services.policy_version_create(
        purpose=newsletter,
        actor="test",
        version="2026-03",
        notice_sha256=hashlib.sha256(NOTICE.encode()).hexdigest(),
        notice_text=NOTICE,
        notice_url="https://acme.example/notices/newsletter",
        effective_at=timezone.now() - timedelta(days=30),
    )
    return Catalog(newsletter, ads, fraud, version)


def grant(organization: Organization, purpose: str, *, subject_id: str = "cust-1", jurisdiction: str = "DE") -> None:
    consent_services.consent_record(
        organization=organization,
        item=consent_services.ConsentEventInput(
            subject_id=subject_id,
            purpose=purpose,
            action="grant",
            occurred_at=timezone.now() - timedelta(minutes=5),
            source="web-signup",
            collection_method="web_form",
            jurisdiction=jurisdiction,
            subject_email=EMAIL,
        ),
    )


def link_from_mail() -> str:
    """The path of the preference link in the last email sent."""
    match = LINK_PATTERN.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return "/" + match.group(0).split("/", 3)[3]


def request_link(client: Client, capture: Any, email: str = EMAIL, **headers: Any) -> str:
    with capture(execute=True):
        response = client.post("/privacy/acme/preferences/", {"email": email}, **headers)
    assert response.status_code == 200, response.content
    return link_from_mail()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html) or re.search(rf'value="([^"]*)"[^>]*name="{name}"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def open_preferences(client: Client, path: str, jurisdiction: str = "DE", **headers: Any) -> Any:
    page = client.get(path)
    assert page.status_code == 200
    confirmation = hidden(page.content.decode(), "confirmation")
    return client.post(path, {"confirmation": confirmation, "jurisdiction": jurisdiction}, **headers)


def counts() -> dict[str, int]:
    """Rows a page might write: compared before and after a scanner's GET or HEAD."""
    return {
        "events": ConsentEvent.objects.count(),
        "states": ConsentState.objects.count(),
        "subjects": Subject.objects.count(),
        "links": PreferenceLink.objects.count(),
        "confirmed": PreferenceLink.objects.filter(confirmed_at__isnull=False).count(),
        "audit": AuditLogEntry.objects.count(),
    }
