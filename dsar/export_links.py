"""The signed, expiring link a requester downloads an export with.

The link is signed once, when legal approves the export (``DsarExport.link_issued_at``, audited); it carries the
export's public id and that issue time, signed with Django's ``TimestampSigner`` under its own salt. A download
checks the signature and the expiry stored on the export (``link_expires_at``), so a link signed at any other
time (or minted again from the secret key) does not work, and an export shredded or purged answers 410.

Opening the link shows a page (privacy center) that says what it is and until when it works; only a POST from
that page downloads (and audits): mail scanners and previewers open links. The page's form carries a confirmation
value signed under its own salt, bound to the export and to this very token, valid for a short while.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from core.link_confirmations import confirmation_for, is_confirmation_for
from dsar.problems import DownloadConfirmationInvalid, ExportLinkExpired, ExportLinkInvalid

SALT: Final = "provenant.dsar.export-download"
LINK_LIFETIME: Final = timedelta(days=7)
CONFIRMATION_SALT: Final = "provenant.dsar.export-download-confirmation"


def issue_marker(issued_at: datetime) -> str:
    """What a link names of its issue: the stored issue time, to the microsecond."""
    return issued_at.isoformat(timespec="microseconds")


def download_token(export_public_id: str, issued_at: datetime) -> str:
    return signing.dumps({"x": export_public_id, "i": issue_marker(issued_at)}, salt=SALT)


def download_url(export_public_id: str, issued_at: datetime, *, privacy_center_url: str = "") -> str:
    """The link emailed to the requester: the download page of the organization's privacy center
    (``privacy_center_url``, e.g. https://example.com/privacy/acme); without it the API route, which sends
    browsers to that page and downloads only on a confirmed POST too."""
    token = download_token(export_public_id, issued_at)
    if privacy_center_url:
        return f"{privacy_center_url.rstrip('/')}/download/{token}"
    return f"{settings.PROVENANT_PUBLIC_BASE_URL.rstrip('/')}/api/v1/dsar/exports/{token}"


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


def download_confirmation(export_public_id: str, token: str) -> str:
    """The value the download page's form posts back: names the export and a digest of the link's token."""
    return confirmation_for(token, salt=CONFIRMATION_SALT, names=export_public_id)


def check_download_confirmation(value: object, *, export_public_id: str, token: str) -> None:
    """DownloadConfirmationInvalid (403) unless ``value`` was made by the page of this link, recently."""
    refusal = DownloadConfirmationInvalid(
        "Download from the page the link opens: this confirmation is missing, expired or not for this link."
    )
    if not is_confirmation_for(value, token, salt=CONFIRMATION_SALT, names=export_public_id):
        raise refusal
