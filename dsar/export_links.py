"""The signed, expiring link a requester downloads an export with.

The link carries only the export's public id, signed with Django's ``TimestampSigner`` under its own salt.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from dsar.problems import ExportLinkExpired, ExportLinkInvalid

SALT: Final = "provenant.dsar.export-download"
LINK_LIFETIME: Final = timedelta(days=7)


def download_token(export_public_id: str) -> str:
    return signing.dumps({"x": export_public_id}, salt=SALT)


def download_url(export_public_id: str) -> str:
    base = settings.PROVENANT_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/api/v1/dsar/exports/{download_token(export_public_id)}"


def export_id_from_token(token: str) -> str:
    """The export the token names; ExportLinkExpired (410) after seven days, ExportLinkInvalid (400) if tampered."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=LINK_LIFETIME)
    except signing.SignatureExpired as exc:
        raise ExportLinkExpired("This download link has expired; ask us for a new one.") from exc
    except signing.BadSignature as exc:
        raise ExportLinkInvalid("This download link is not valid.") from exc
    export_id = payload.get("x") if isinstance(payload, dict) else None
    if not isinstance(export_id, str) or not export_id:
        raise ExportLinkInvalid("This download link is not valid.")
    return export_id
