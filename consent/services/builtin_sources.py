"""The built-in sources every organization has: ``provenant`` for events the system writes (expiry) and
``gpc`` for opt-outs recorded from Global Privacy Control signals. Created on first use."""

from __future__ import annotations

from consent.enums import SourceKind
from consent.models import Source
from core.models import Organization

SYSTEM_SOURCE_KEY = "provenant"
GPC_SOURCE_KEY = "gpc"

_BUILTIN_SOURCES = {
    SYSTEM_SOURCE_KEY: {
        "name": "Provenant (system)",
        "collection_point": "Events Provenant writes itself, such as consent expiry.",
    },
    GPC_SOURCE_KEY: {
        "name": "Global Privacy Control",
        "collection_point": "Sec-GPC request header or navigator.globalPrivacyControl reported by a client.",
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
