"""Recording a consent fact from the subject page: a withdrawal or refusal that reached the legal team by letter, phone
or email, with the document as evidence. Thin: the form validates, ``consent_record_by_staff`` writes (the ledger's
own append, collection method ``admin``, the staff user as actor, the document sealed, audited). Needs
``consent.add_consentevent``; a staff user limited to some organizations reaches only their subjects."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from consent.catalog import organization_catalog
from consent.enums import STAFF_ACTION_CHOICES, ReceivedBy
from consent.models import Subject
from consent.services import EvidenceDocument, consent_record_by_staff
from consent.services.staff_recording import MAX_DOCUMENT_BYTES, MAX_NOTE_CHARS
from core.admin import admin_actor
from core.problems import DomainError

RECORD_PERMISSION = "consent.add_consentevent"
# The letter as evidence: documents and pictures a scanner or a phone makes.
DOCUMENT_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "text/plain",
    "message/rfc822",
}
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """The uploaded file's name without a path or characters a PDF attachment or a download could misread."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_FILENAME.sub("_", base).strip("._") or "document"
    return cleaned[-100:]


class ConsentFactForm(forms.Form):
    purpose = forms.ChoiceField()
    action = forms.ChoiceField(choices=STAFF_ACTION_CHOICES)
    occurred_at = forms.DateTimeField(
        label="Received at (UTC)",
        help_text="When the letter or call reached you (UTC), e.g. 2026-03-03 09:30.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    received_by = forms.ChoiceField(label="Received by", choices=ReceivedBy.choices)
    jurisdiction = forms.CharField(max_length=6, help_text="Where the person is, e.g. DE or US-CA.")
    note = forms.CharField(required=False, max_length=MAX_NOTE_CHARS, widget=forms.Textarea(attrs={"rows": 3}))
    document = forms.FileField(
        required=False,
        help_text=f"The letter, email or call note (PDF, image, text or .eml; at most "
        f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB). Stored sealed as the event's evidence.",
    )

    def __init__(self, *args: Any, purposes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = [(key, key) for key in purposes]  # type: ignore[attr-defined]

    def clean_document(self) -> Any:
        upload = self.cleaned_data.get("document")
        if upload is None:
            return None
        if upload.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(f"At most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB.")
        if (upload.content_type or "").split(";")[0] not in DOCUMENT_TYPES:
            raise forms.ValidationError("A PDF, an image (PNG, JPEG, TIFF), a text file or an email (.eml).")
        return upload

    def clean_occurred_at(self) -> Any:
        occurred_at = self.cleaned_data["occurred_at"]
        if occurred_at > timezone.now():
            raise forms.ValidationError("Not in the future.")
        return occurred_at

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if cleaned and not cleaned.get("document") and not cleaned.get("note"):
            raise forms.ValidationError("Attach the document, or note what was said on the phone.")
        return cleaned


class SubjectConsentFactsAdminMixin:
    """Adds ``<subject>/record-consent/`` to the subject admin (``admin:consent_subject_record_consent``)."""

    admin_site: Any
    opts: Any

    def get_urls(self) -> list[URLPattern]:
        record = path(
            "<path:object_id>/record-consent/",
            self.admin_site.admin_view(self.record_consent_view),
            name="consent_subject_record_consent",
        )
        return [record, *super().get_urls()]  # type: ignore[misc]

    def record_consent_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not request.user.has_perm(RECORD_PERMISSION):
            raise PermissionDenied
        subject: Subject | None = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if subject is None or not self.has_view_permission(request, subject):  # type: ignore[attr-defined]
            raise Http404
        purposes = sorted(organization_catalog(subject.organization).purposes)
        initial = {"jurisdiction": subject.jurisdiction, "occurred_at": timezone.now().replace(second=0, microsecond=0)}
        form = ConsentFactForm(request.POST or None, request.FILES or None, purposes=purposes, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            upload = data["document"]
            document = (
                EvidenceDocument(
                    filename=safe_filename(upload.name or "document"),
                    content_type=(upload.content_type or "application/octet-stream").split(";")[0],
                    content=upload.read(),
                )
                if upload is not None
                else None
            )
            try:
                recorded = consent_record_by_staff(
                    subject=subject,
                    purpose=data["purpose"],
                    action=data["action"],
                    occurred_at=data["occurred_at"],
                    received_by=data["received_by"],
                    jurisdiction=data["jurisdiction"].strip().upper(),
                    actor=admin_actor(request),
                    document=document,
                    note=data["note"],
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
                for item in exc.extra.get("errors") or []:
                    form.add_error(None, str(item.get("detail", "")))
            else:
                messages.success(
                    request,
                    f"Recorded: {recorded.event.action} of {recorded.event.purpose.key}, event "
                    f"{recorded.event.event_id}, with its evidence sealed.",
                )
                return HttpResponseRedirect(reverse("admin:consent_subject_change", args=[subject.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": subject,
            "title": "Record a withdrawal or refusal",
            "form": form,
            "subject_is_erased": subject.is_erased,
        }
        return TemplateResponse(request, "admin/consent/subject/record_consent.html", context)
