"""The DSAR problem types: what services and the signed links refuse, each a stable ``type`` slug and status."""

from __future__ import annotations

from core.problems import Conflict, DomainError, InvalidInput
from dsar.deadlines import DeadlineError, DeadlineSettingMissing, ExtensionNotAvailable, ExtensionNoticeLate

# --- the workflow ----------------------------------------------------------------------------------------------


class IllegalTransition(DomainError):
    status = 409
    slug = "illegal-transition"
    title = "The request cannot move to this status"


class StatusChanged(Conflict):
    slug = "status-changed"
    title = "The request changed meanwhile"


class AlreadyExtended(Conflict):
    slug = "already-extended"
    title = "The request was extended already"


class RequestClosed(Conflict):
    slug = "request-closed"
    title = "The request is closed"


class SubjectFixed(Conflict):
    slug = "subject-fixed"
    title = "The request's subject can no longer change"


class RequesterUnreachable(DomainError):
    slug = "requester-unreachable"
    title = "The requester cannot be reached"


class FulfilmentNotReady(DomainError):
    status = 409
    slug = "fulfilment-not-ready"
    title = "The request cannot be carried out yet"


# --- deadlines -------------------------------------------------------------------------------------------------


class ExtensionNoticeTooLate(Conflict):
    slug = "extension-notice-late"
    title = "The extension notice went out too late"


class ExtensionUnavailable(DomainError):
    slug = "extension-not-available"
    title = "No extension for this regime or request type"


class DeadlineInputInvalid(InvalidInput):
    slug = "deadline-input-invalid"
    title = "The deadlines cannot be computed from this input"


_MISSING_SETTING = {
    "tz": "required: neither the organization's settings nor the calendar give a time zone",
    "calendar": "required: neither the organization's settings nor the time zone give a holiday calendar",
}


def deadline_problem(exc: DeadlineError) -> DomainError:
    """The engine's refusals as problem documents: a late notice is a 409 with its due date, the rest 422."""
    if isinstance(exc, ExtensionNoticeLate):
        return ExtensionNoticeTooLate(str(exc), code=exc.code, due=exc.due.isoformat())
    if isinstance(exc, ExtensionNotAvailable):
        return ExtensionUnavailable(str(exc))
    if isinstance(exc, DeadlineSettingMissing):
        return DeadlineInputInvalid(
            str(exc),
            missing=list(exc.missing),
            errors=[{"pointer": f"/{name}", "detail": _MISSING_SETTING[name]} for name in exc.missing],
        )
    return DeadlineInputInvalid(str(exc))


# --- the signed links ------------------------------------------------------------------------------------------


class VerificationLinkInvalid(DomainError):
    status = 400
    slug = "verification-link-invalid"
    title = "The verification link is not valid"


class VerificationLinkExpired(DomainError):
    status = 410
    slug = "verification-link-expired"
    title = "The verification link has expired"


class VerificationConfirmationInvalid(DomainError):
    status = 403
    slug = "verification-confirmation-invalid"
    title = "Confirm from the verification page"


class ExportLinkInvalid(DomainError):
    status = 400
    slug = "export-link-invalid"
    title = "The download link is not valid"


class ExportLinkExpired(DomainError):
    status = 410
    slug = "export-link-expired"
    title = "The download link has expired"


class DownloadConfirmationInvalid(DomainError):
    status = 403
    slug = "export-confirmation-invalid"
    title = "Confirm from the download page"


class StatusLinkInvalid(DomainError):
    status = 400
    slug = "status-link-invalid"
    title = "The status link is not valid"


class StatusLinkExpired(DomainError):
    status = 410
    slug = "status-link-expired"
    title = "The status link has expired"


class RightNotGranted(InvalidInput):
    slug = "right-not-granted"
    title = "The law of this place does not grant this right"


class ExportPurged(DomainError):
    status = 410
    slug = "export-purged"
    title = "The export was deleted"


class ExportUnreadable(DomainError):
    status = 409
    slug = "export-unreadable"
    title = "The export cannot be opened"


class ErasureNotWaiting(Conflict):
    slug = "erasure-not-waiting"
    title = "No erasure is waiting"
