"""The built-in sources every organization has: ``provenant`` for events the system writes (expiry), ``gpc`` for
opt-outs recorded from Global Privacy Control signals, ``privacy_center`` for choices people make in the privacy
center, ``unsubscribe_link`` for withdrawals through the unsubscribe links recipients put in their emails and
``legal_team`` for withdrawals and refusals the legal team records in the admin (a letter, a call).
Created on first use; reserved (kind ``system``): API clients can't record events in their name."""

from __future__ import annotations

from consent.enums import SourceKind
from consent.models import Source
from core.models import Organization

SYSTEM_SOURCE_KEY = "provenant"
GPC_SOURCE_KEY = "gpc"
PRIVACY_CENTER_SOURCE_KEY = "privacy_center"
UNSUBSCRIBE_SOURCE_KEY = "unsubscribe_link"
LEGAL_TEAM_SOURCE_KEY = "legal_team"

_BUILTIN_SOURCES = {
    SYSTEM_SOURCE_KEY: {
        "name": "Provenant (system)",
        "collection_point": "Events Provenant writes itself, such as consent expiry.",
    },
    GPC_SOURCE_KEY: {
        "name": "Global Privacy Control",
        "collection_point": "Sec-GPC request header or navigator.globalPrivacyControl reported by a client.",
    },
    PRIVACY_CENTER_SOURCE_KEY: {
        "name": "Privacy center",
        "collection_point": "The organization's privacy center: the preference page a person opens by email link.",
    },
    UNSUBSCRIBE_SOURCE_KEY: {
        "name": "Unsubscribe link",
        "collection_point": "A signed unsubscribe link in an email (List-Unsubscribe, RFC 8058 one-click).",
    },
    LEGAL_TEAM_SOURCE_KEY: {
        "name": "Legal team (admin)",
        "collection_point": "Withdrawals and refusals the legal team received by letter, phone or email and "
        "recorded in the admin, with the document as evidence.",
    },
}


def builtin_source(*, organization: Organization, key: str) -> Source:
    """The organization's built-in source ``key`` (one of ``SYSTEM_SOURCE_KEY``, ``GPC_SOURCE_KEY``)."""
    source, _ = Source.objects.get_or_create(
        organization=organization,
        key=key,
        defaults={**_BUILTIN_SOURCES[key], "kind": SourceKind.SYSTEM, "is_builtin": True},
    )
    return source


def system_source(organization: Organization) -> Source:
    """The built-in source of events Provenant writes itself (expiry)."""
    return builtin_source(organization=organization, key=SYSTEM_SOURCE_KEY)


def gpc_source(organization: Organization) -> Source:
    """The built-in source every organization has for opt-outs recorded from GPC signals."""
    return builtin_source(organization=organization, key=GPC_SOURCE_KEY)
