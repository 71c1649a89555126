"""The signed, expiring link a requester downloads an export with.

The link is signed once, when legal approves the export (``DsarExport.link_issued_at``, audited); it carries the
export's public id and that issue time, signed with Django's ``TimestampSigner`` under its own salt. A download
checks the signature and the expiry stored on the export (``link_expires_at``), so a link signed at any other
time (or minted again from the secret key) does not work, and an export shredded or purged answers 410.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from dsar.problems import ExportLinkExpired, ExportLinkInvalid

SALT: Final = "provenant.dsar.export-download"
LINK_LIFETIME: Final = timedelta(days=7)


def issue_marker(issued_at: datetime) -> str:
    """What a link names of its issue: the stored issue time, to the microsecond."""
    return issued_at.isoformat(timespec="microseconds")


def download_token(export_public_id: str, issued_at: datetime) -> str:
    return signing.dumps({"x": export_public_id, "i": issue_marker(issued_at)}, salt=SALT)


def download_url(export_public_id: str, issued_at: datetime) -> str:
    base = settings.PROVENANT_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/api/v1/dsar/exports/{download_token(export_public_id, issued_at)}"


def export_link_from_token(token: str) -> tuple[str, str]:
    """The export the token names and its issue marker; ExportLinkExpired (410) after seven days,
    ExportLinkInvalid (400) if tampered."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=LINK_LIFETIME)
    except signing.SignatureExpired as exc:
        raise ExportLinkExpired("This download link has expired; ask us for a new one.") from exc
    except signing.BadSignature as exc:
        raise ExportLinkInvalid("This download link is not valid.") from exc
    export_id = payload.get("x") if isinstance(payload, dict) else None
    issued = payload.get("i") if isinstance(payload, dict) else None
    if not isinstance(export_id, str) or not export_id or not isinstance(issued, str) or not issued:
        raise ExportLinkInvalid("This download link is not valid.")
    return export_id, issued
