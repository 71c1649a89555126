"""Seed a demo organization (slug ``demo``) with a catalog, a few subjects and a stable API key.

Idempotent: rows that exist are left alone, events carry idempotency keys so a rerun replays them,
and the API key in ``var/demo-api-key`` is reused while it still authenticates.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from consent import selectors
from consent.enums import SourceKind
from consent.models import Action, CollectionMethod, Purpose
from consent.services import (
    ConsentEventInput,
    consent_record_many,
    ledger_integrity_check,
    policy_version_create,
    purpose_create,
    request_digest,
    source_create,
)
from core.models import Organization
from core.secrets import read_or_create_secret
from core.selectors import api_key_for_secret, organization_by_slug
from core.services import api_key_create, organization_create
from dsar.selectors import deadline_settings_of
from dsar.services import deadline_settings_update
from provenance.selectors import recipient_by_key
from provenance.services.recipients import recipient_create
from reports.services import client_user_create

ACTOR = "cli:seed_demo"
DEMO_SLUG = "demo"
DEMO_CLIENT_USERNAME = "demo-client"
DEMO_CALENDAR = "IE"
DEMO_TIME_ZONE = "Europe/Dublin"
DEMO_SCOPES = [
    "consent:read",
    "consent:write",
    "provenance:read",
    "provenance:write",
    "stamp",
    "deliver",
    "dsar:read",
    "dsar:write",
    "dsar:configure",
    "reports:read",
]
RECIPIENTS: list[dict[str, Any]] = [
    {
        "key": "crm",
        "name": "CRM",
        "role": "processor",
        "purposes": ["marketing-email", "analytics"],
        "data_categories": ["contact"],
    },
    {
        "key": "ad-network",
        "name": "Ad network",
        "role": "third_party",
        "purposes": ["ad-targeting"],
        "data_categories": ["behavioural"],
        "legacy_usp": True,
    },
]

SOURCES: list[dict[str, Any]] = [
    {
        "key": "web-signup",
        "name": "Website signup form",
        "kind": SourceKind.WEB_FORM,
        "collection_point": "https://demo.example/signup",
    },
    {
        "key": "mobile-app",
        "name": "Mobile app onboarding",
        "kind": SourceKind.MOBILE_APP,
        "collection_point": "iOS/Android onboarding, screen 3 (notifications and email)",
    },
    {
        "key": "crm-import",
        "name": "CRM import",
        "kind": SourceKind.IMPORT,
        "collection_point": "Nightly export of the legacy CRM",
    },
    {
        "key": "partner-leads",
        "name": "Partner lead feed",
        "kind": SourceKind.PARTNER,
        "vendor_name": "Leadly GmbH",
        "dpa_reference": "DPA-2024-017",
        "dpa_date": date(2024, 3, 1),
        "collection_point": "Co-registration form on partner sites",
    },
]

PURPOSES: list[dict[str, Any]] = [
    {
        "key": "marketing-email",
        "name": "Marketing email",
        "description": "Newsletters and offers by email.",
        "validity": "P6M",
        "dpv_purpose_iri": "https://w3id.org/dpv#DirectMarketing",
    },
    {
        "key": "analytics",
        "name": "Product analytics",
        "description": "Measuring how the product is used.",
        "dpv_purpose_iri": "https://w3id.org/dpv#ServiceOptimisation",
    },
    {
        "key": "ad-targeting",
        "name": "Targeted advertising",
        "description": "Sharing identifiers with ad partners to target ads (a 'sale or sharing' under CCPA).",
        "is_sale_or_sharing": True,
        "is_targeted_advertising": True,
        "dpv_purpose_iri": "https://w3id.org/dpv#TargetedAdvertising",
    },
]

MARKETING_NOTICE = "Demo Co. sends newsletters and offers by email. Unsubscribe at any time."


@dataclass(frozen=True)
class DemoEvent:
    """One seeded event; ``days_ago`` is relative to the run, so the demo always looks recent."""

    key: str
    subject_id: str
    purpose: str
    action: str
    days_ago: int
    source: str
    collection_method: str
    jurisdiction: str
    email: str | None = None
    gpc: bool = False


EVENTS = [
    DemoEvent(
        "alice-email",
        "demo-alice",
        "marketing-email",
        Action.GRANT,
        30,
        "web-signup",
        CollectionMethod.WEB_FORM,
        "DE",
        email="alice@example.com",
    ),
    DemoEvent(
        "alice-analytics", "demo-alice", "analytics", Action.GRANT, 30, "web-signup", CollectionMethod.WEB_FORM, "DE"
    ),
    DemoEvent(
        "bob-email",
        "demo-bob",
        "marketing-email",
        Action.GRANT,
        20,
        "mobile-app",
        CollectionMethod.MOBILE_APP,
        "FR",
        email="bob@example.com",
    ),
    DemoEvent(
        "bob-email-withdraw",
        "demo-bob",
        "marketing-email",
        Action.WITHDRAW,
        2,
        "mobile-app",
        CollectionMethod.MOBILE_APP,
        "FR",
    ),
    DemoEvent(
        "bob-ads", "demo-bob", "ad-targeting", Action.REFUSE, 20, "mobile-app", CollectionMethod.MOBILE_APP, "FR"
    ),
    # Older than the purpose's six-month validity: the worker's expiry sweep writes its 'expire' event.
    DemoEvent(
        "carol-email",
        "demo-carol",
        "marketing-email",
        Action.GRANT,
        200,
        "crm-import",
        CollectionMethod.API_IMPORT,
        "US-CA",
        email="carol@example.com",
    ),
    DemoEvent(
        "dave-ads",
        "demo-dave",
        "ad-targeting",
        Action.GRANT,
        10,
        "partner-leads",
        CollectionMethod.PARTNER_FEED,
        "US-CA",
    ),
    DemoEvent(
        "dave-ads-gpc",
        "demo-dave",
        "ad-targeting",
        Action.WITHDRAW,
        1,
        "partner-leads",
        CollectionMethod.GPC_SIGNAL,
        "US-CA",
        gpc=True,
    ),
]


class Command(BaseCommand):
    help = "Create (or complete) the 'demo' organization with sources, purposes, recipients, subjects and an API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--api-key-file",
            default=None,
            help="Where the demo key's plaintext is kept (default: <PROVENANT_VAR_DIR>/demo-api-key)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(DEMO_SLUG) or organization_create(
            slug=DEMO_SLUG, name="Demo Co.", actor=ACTOR
        )
        self._seed_catalog(organization)
        if deadline_settings_of(organization) is None:  # an Irish controller (REGULATORY.md A1); kept once changed
            deadline_settings_update(
                organization=organization, calendar=DEMO_CALENDAR, time_zone=DEMO_TIME_ZONE, actor=ACTOR
            )
        recorded = self._seed_events(organization)
        key_file = Path(options["api_key_file"] or Path(settings.VAR_DIR) / "demo-api-key")
        created = self._demo_api_key(organization, key_file)
        self._demo_client_user(organization)
        # The report's ledger section shows the latest check; a fresh demo has one.
        ledger_integrity_check(organization=organization, actor=ACTOR)
        self.stdout.write(
            f"demo organization '{organization.slug}': {recorded} new events; "
            f"API key {'created' if created else 'reused'} ({key_file}); "
            f"client user '{DEMO_CLIENT_USERNAME}' reads its report at /reports/"
        )

    def _demo_client_user(self, organization: Organization) -> None:
        """A client user of the demo organization; its password is kept in var/secrets/demo-client-password."""
        password = read_or_create_secret(Path(settings.VAR_DIR) / "secrets" / "demo-client-password")
        if not get_user_model().objects.filter(username=DEMO_CLIENT_USERNAME).exists():
            client_user_create(
                organization=organization,
                username=DEMO_CLIENT_USERNAME,
                email="client@demo.example",
                password=password,
                actor=ACTOR,
            )

    def _seed_catalog(self, organization: Organization) -> None:
        for values in SOURCES:
            if selectors.source_by_key(organization=organization, key=values["key"]) is None:
                source_create(organization=organization, actor=ACTOR, **values)
        for values in PURPOSES:
            if selectors.purpose_by_key(organization=organization, key=values["key"]) is None:
                purpose_create(organization=organization, actor=ACTOR, **values)
        for values in RECIPIENTS:
            if recipient_by_key(organization=organization, key=values["key"]) is None:
                recipient_create(organization=organization, actor=ACTOR, **values)
        marketing = selectors.purpose_by_key(organization=organization, key="marketing-email")
        assert isinstance(marketing, Purpose)
        if not selectors.policy_version_list(purpose=marketing).exists():
            policy_version_create(
                purpose=marketing,
                actor=ACTOR,
                version="2024-01",
                notice_sha256=hashlib.sha256(MARKETING_NOTICE.encode()).hexdigest(),
                notice_url="https://demo.example/privacy/marketing-email/2024-01",
                effective_at=timezone.now() - timedelta(days=400),
            )

    def _seed_events(self, organization: Organization) -> int:
        now = timezone.now()
        items = []
        for event in EVENTS:
            # The digest leaves out occurred_at (relative to today), so a rerun is a replay, not a conflict.
            digest_body = {
                "seed": event.key,
                "subject_id": event.subject_id,
                "purpose": event.purpose,
                "action": event.action,
                "source": event.source,
            }
            items.append(
                ConsentEventInput(
                    subject_id=event.subject_id,
                    purpose=event.purpose,
                    action=event.action,
                    occurred_at=now - timedelta(days=event.days_ago),
                    source=event.source,
                    collection_method=event.collection_method,
                    jurisdiction=event.jurisdiction,
                    gpc=event.gpc,
                    subject_email=event.email,
                    # Evidence (sealed with the subject's key) as a web form would capture it.
                    ip_address="203.0.113.7" if event.source == "web-signup" else None,
                    user_agent="Mozilla/5.0 (demo)" if event.source == "web-signup" else None,
                    idempotency_key=f"seed-demo:{event.key}",
                    request_digest=request_digest(digest_body),
                    pointer=f"/seed/{event.key}",
                )
            )
        results = consent_record_many(organization=organization, items=items, now=now)
        return sum(1 for result in results if not result.replayed)

    def _demo_api_key(self, organization: Organization, key_file: Path) -> bool:
        """Reuse the key in ``key_file`` while it authenticates for this organization, else make one.

        Returns whether a key was created. Only this file keeps the plaintext; the database has a digest.
        """
        if key_file.exists():
            secret = key_file.read_text().strip()
            api_key = api_key_for_secret(secret) if secret else None
            if (
                api_key is not None
                and api_key.organization_id == organization.pk
                and all(api_key.has_scope(scope) for scope in DEMO_SCOPES)
            ):
                return False
        _, secret = api_key_create(organization=organization, name="demo (make run)", scopes=DEMO_SCOPES, actor=ACTOR)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = key_file.with_name(key_file.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        temporary.replace(key_file)
        return True
