"""The base of the consent API's views: the organization-scoped view, plus the subject lookup and the
``Sec-GPC`` header of calls made on a person's behalf (honoured by writes, reported by reads)."""

from __future__ import annotations

import threading
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.serializers import Serializer

from consent import selectors
from consent.models import Subject
from consent.selectors import GpcSignalPreview
from core.api.fields import normalized_subject_id
from core.api.views import OrganizationApi
from core.problems import NotFound

_prebuilt = threading.local()


def prebuilt_validated(serializer_class: type[Serializer], data: Any) -> Any:
    """``serializer_class(data=data)``'s validated data, raising its ValidationError, from one instance per class
    and thread that is reused (issue #16): DRF deep-copies a serializer's declared fields for every new
    instance, which cost more than the validation itself on the write path. Same fields, same errors; for
    serializers whose validation keeps no state of its own besides DRF's (initial data, errors, result)."""
    instances: dict[type[Serializer], Serializer] = _prebuilt.__dict__.setdefault("instances", {})
    serializer = instances.get(serializer_class)
    if serializer is None:
        serializer = instances[serializer_class] = serializer_class(data=data)
    else:
        serializer.initial_data = data
    try:
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    finally:
        for attribute in ("_validated_data", "_errors", "_data"):
            serializer.__dict__.pop(attribute, None)
        serializer.initial_data = None  # nothing of the request stays behind


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
