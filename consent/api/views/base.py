"""The base of the consent API's views: the organization-scoped view, plus the subject lookup and the
``Sec-GPC`` header of calls made on a person's behalf (honoured by writes, reported by reads)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError

from consent import selectors
from consent.models import Subject
from consent.selectors import GpcSignalPreview
from core.api.fields import normalized_subject_id
from core.api.views import OrganizationApi
from core.problems import NotFound


class ConsentApi(OrganizationApi):
    def gpc_header(self) -> str | None:
        """The raw ``Sec-GPC`` value when the call carries the person's signal (the call is made on their
        behalf), else None."""
        if not getattr(self.request, "gpc", False):
            return None
        return getattr(self.request, "gpc_raw", None) or "1"

    def gpc_signal_on_read(self, subject: Subject) -> GpcSignalPreview | None:
        """What the ``Sec-GPC: 1`` of a read would do if recorded. A GET never writes (issue #11, item 6):
        the signal is reported, and recorded only by a write (``consent:write``)."""
        if self.gpc_header() is None:
            return None
        return selectors.gpc_signal_preview(organization=self.organization, subject=subject)

    def subject_or_404(self, subject_id: str) -> Subject:
        """The subject a path names. A path id that is not a normal subject id (not NFC, invisible characters,
        ``.``/``..``) names nobody: 404, whatever a row may hold. The id is not echoed back."""
        if not is_normal_subject_id(subject_id):
            raise NotFound("No subject with this id in your organization.")
        subject = selectors.subject_by_external_id(organization=self.organization, external_id=subject_id)
        if subject is None:
            raise NotFound("No subject with this id in your organization.", subject_id=subject_id)
        return subject

    def subject_with_projection_or_404(self, subject_id: str) -> tuple[Subject, dict[int, dict[str, Any]]]:
        """:meth:`subject_or_404` with the subject's projection rows, read in the same round trip."""
        if not is_normal_subject_id(subject_id):
            raise NotFound("No subject with this id in your organization.")
        subject, projected = selectors.subject_with_projection(organization=self.organization, external_id=subject_id)
        if subject is None:
            raise NotFound("No subject with this id in your organization.", subject_id=subject_id)
        return subject, projected


def is_normal_subject_id(value: str) -> bool:
    """``value`` is a subject id exactly as :func:`core.api.fields.normalized_subject_id` would accept it."""
    try:
        return normalized_subject_id(value) == value
    except ValidationError:
        return False
