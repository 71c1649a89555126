"""The subject page's "Evidence pack" button: a small form (date, purposes, PDF or JSON) whose POST produces the
signed pack as a download (``provenance.services.evidence``: decrypted evidence, signed, audited). Registered with the
stamp log's admin (``admin:provenance_subject_evidence_pack``), since consent's subject admin can't import provenance;
the button is in provenance's object tools of the subject page. Needs ``provenance.produce_evidence_pack``; a staff user
limited to some organizations reaches only their subjects."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from consent.catalog import organization_catalog
from consent.models import Subject
from core.admin import admin_actor
from core.problems import DomainError
from core.selectors import staff_organization_ids
from provenance.evidence import end_of_day
from provenance.evidence_pdf import evidence_pack_pdf
from provenance.services.evidence import evidence_pack_produce

EVIDENCE_PERMISSION = "provenance.produce_evidence_pack"
FORMATS = [("pdf", "PDF (signed: the JWS is printed and attached)"), ("json", "JSON with its JWS")]


class EvidencePackForm(forms.Form):
    at = forms.DateField(
        label="As of",
        help_text="The pack states the consent at the end of this day (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    purposes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, help_text="The purposes the question is about."
    )
    format = forms.ChoiceField(choices=FORMATS, initial="pdf", widget=forms.RadioSelect)

    def __init__(self, *args: Any, purposes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["purposes"].choices = [(key, key) for key in purposes]  # type: ignore[attr-defined]

    def clean_at(self) -> Any:
        day = self.cleaned_data["at"]
        if day > timezone.now().date():
            raise forms.ValidationError("Not in the future: a pack states what was on record by then.")
        return day


def _subject_for(request: HttpRequest, subject_pk: str) -> Subject:
    """The subject, if the staff user's organizations include its organization; else 404 (its existence unsaid)."""
    subjects = Subject.objects.select_related("organization").filter(
        pk=int(subject_pk) if (subject_pk.isascii() and subject_pk.isdigit()) else 0
    )
    ids = staff_organization_ids(request.user)
    if ids is not None:
        subjects = subjects.filter(organization_id__in=ids)
    subject = subjects.first()
    if subject is None:
        raise Http404
    return subject


def evidence_pack_view(request: HttpRequest, subject_pk: str, *, admin_context: dict[str, Any]) -> HttpResponse:
    """GET: the form. POST: the pack as a download, audited (``channel`` admin)."""
    if not request.user.has_perm(EVIDENCE_PERMISSION) or not request.user.has_perm("consent.view_subject"):
        raise PermissionDenied
    subject = _subject_for(request, subject_pk)
    purposes = sorted(organization_catalog(subject.organization).purposes)
    initial = {"at": timezone.now().date(), "purposes": purposes, "format": "pdf"}
    form = EvidencePackForm(request.POST or None, purposes=purposes, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            produced = evidence_pack_produce(
                organization=subject.organization,
                subject=subject,
                at=min(end_of_day(data["at"]), timezone.now()),
                purposes=list(data["purposes"]),
                actor=admin_actor(request),
                jwks_url=request.build_absolute_uri(reverse("organization-jwks", args=[subject.organization.slug])),
                channel="admin",
            )
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            name = f"evidence-pack-{subject.pk}-{data['at'].isoformat()}"
            response: HttpResponse
            if data["format"] == "pdf":
                pdf = evidence_pack_pdf(produced.pack, jws=produced.jws, kid=produced.kid)
                response = HttpResponse(pdf, content_type="application/pdf")
                response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
            else:
                body = json.dumps({**produced.pack, "jws": produced.jws}, ensure_ascii=False, indent=2)
                response = HttpResponse(body.encode("utf-8"), content_type="application/json")
                response["Content-Disposition"] = f'attachment; filename="{name}.json"'
            response["Cache-Control"] = "no-store"
            return response
    context = {
        **admin_context,
        "subject": subject,
        "title": "Evidence pack",
        "form": form,
    }
    response = TemplateResponse(request, "admin/provenance/stamprecord/evidence_pack.html", context)
    response["Cache-Control"] = "no-store"
    return response
