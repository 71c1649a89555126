"""The forms of the legal team's DSAR pages: intake, and the inputs of the workflow actions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.contrib.admin.sites import AdminSite
from django.contrib.admin.widgets import AdminDateWidget, AdminSplitDateTime, AutocompleteSelect
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.urls import reverse

from consent.models import Subject
from core.timeutil import ACCEPTED_DATE_RANGE_TEXT, is_accepted_date
from dsar.deadlines import EXTENSION_REASON_CODES
from dsar.enums import DsarRegime
from dsar.models import DataSubjectRequest
from dsar.selectors import staff_who_may_handle
from dsar.services.casework import STAFF_MESSAGE_MAX_CHARS

SUBJECT_AUTOCOMPLETE_URL = "admin:dsar_datasubjectrequest_subject_autocomplete"
SUBJECT_HELP = "Type an external id or the person's email (matched exactly, never decrypted)."


class SubjectAutocomplete(AutocompleteSelect):
    """The admin's autocomplete on the request's subject, narrowed to one organization: the one chosen on the form
    (``organization_field``, the add form) or the request's own (``organization_id``)."""

    def __init__(
        self, admin_site: AdminSite, *, organization_field: str = "", organization_id: int | None = None
    ) -> None:
        attrs: dict[str, Any] = {"style": "width: 30em"}
        if organization_field:
            attrs["data-organization-field"] = organization_field
        if organization_id is not None:
            attrs["data-organization"] = str(organization_id)
        super().__init__(DataSubjectRequest._meta.get_field("subject"), admin_site, attrs=attrs)

    def get_url(self) -> str:
        return reverse(SUBJECT_AUTOCOMPLETE_URL)

    @property
    def media(self) -> forms.Media:
        # One list, so every merge keeps it after Django's autocomplete.js (whose function it wraps).
        django_media = super().media
        js, css = django_media._js, django_media._css  # type: ignore[attr-defined]  # its merged lists
        return forms.Media(js=[*js, "dsar/admin/subject_autocomplete.js"], css=css)


def check_subject_organization(subject: Subject | None, organization_id: int | None) -> None:
    if subject is not None and organization_id is not None and subject.organization_id != organization_id:
        raise forms.ValidationError("This subject belongs to another organization.")


def validate_accepted_date(value: date | datetime | None) -> None:
    """Dates near year 1 or 9999 are typos and would overflow the deadline arithmetic."""
    if value is not None and not is_accepted_date(value):
        raise forms.ValidationError(f"Must be {ACCEPTED_DATE_RANGE_TEXT}.")


class DsarAddForm(forms.ModelForm):
    """Intake by the legal team (a letter, an email): the regime follows from the jurisdiction unless given."""

    regime = forms.ChoiceField(
        choices=[("", "— from the jurisdiction —"), *DsarRegime.choices],
        required=False,
        help_text="Overrides the regime derived from the jurisdiction.",
    )
    jurisdiction = forms.CharField(
        max_length=6, required=False, help_text="The requester's ISO 3166 country or subdivision: DE, US-CA."
    )
    received_at = forms.SplitDateTimeField(
        required=False,
        widget=AdminSplitDateTime,
        validators=[validate_accepted_date],
        help_text="Only for requests received by email or mail; default: now.",
    )
    requester_email = forms.EmailField(required=False, max_length=254, help_text="Stored encrypted; shown masked.")
    requester_name = forms.CharField(required=False, max_length=200, help_text="Stored encrypted; shown masked.")

    class Meta:
        model = DataSubjectRequest
        fields = ("organization", "type", "jurisdiction", "regime", "channel", "received_at", "subject")
        help_texts = {"subject": SUBJECT_HELP}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        organization = cleaned.get("organization")
        try:
            check_subject_organization(cleaned.get("subject"), organization.pk if organization else None)
        except forms.ValidationError as exc:
            self.add_error("subject", exc)
        return cleaned


class SubjectLinkForm(forms.Form):
    """The subject a request is about, chosen among its organization's subjects (the admin's autocomplete)."""

    subject = forms.ModelChoiceField(queryset=Subject.objects.none(), required=False, help_text=SUBJECT_HELP)

    def __init__(
        self, *args: Any, admin_site: AdminSite, organization_id: int, subjects: QuerySet[Subject], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["subject"]
        assert isinstance(field, forms.ModelChoiceField)
        field.widget = SubjectAutocomplete(admin_site, organization_id=organization_id)
        field.queryset = subjects.filter(organization_id=organization_id)  # also gives the widget its choices
        field.help_text = f"{SUBJECT_HELP} Leave empty to unlink."


class ApproveForm(forms.Form):
    """Approving closes the request and sends what the preview shows; with review warnings, only once confirmed."""

    confirm_warnings = forms.BooleanField(
        required=False,
        label="I have read the warnings",
        help_text="The request has review warnings (above); approve it anyway.",
    )

    def __init__(self, *args: Any, has_warnings: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_warnings = has_warnings
        if not has_warnings:
            del self.fields["confirm_warnings"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.has_warnings and not cleaned.get("confirm_warnings"):
            self.add_error("confirm_warnings", "Read the warnings and confirm them to approve.")
        return cleaned


class MessageForm(forms.Form):
    text = forms.CharField(
        label="Message",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        strip=True,
        max_length=STAFF_MESSAGE_MAX_CHARS,
        help_text="Sent to the requester by email through the outbox (their language's greeting and our signature "
        "added); the text is kept sealed until sent, then only its digest. Audited.",
    )


class ExtendForm(forms.Form):
    reason_code = forms.ChoiceField(
        choices=[("", "---------"), *((code, code) for code in sorted(EXTENSION_REASON_CODES))],
        help_text="Why the request needs the extension; recorded in its history and the audit log.",
    )
    notice_sent_on = forms.DateField(
        widget=AdminDateWidget,
        validators=[validate_accepted_date],
        help_text="The day the requester was told of the extension and its reason (extending emails the notice "
        "to a requester with an address: today).",
    )


class VerifyForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        strip=True,
        help_text="How the identity was verified (documents seen, call-back); kept in the request's history.",
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        strip=True,
        help_text="Why the request is refused; recorded on the request and in its history.",
    )


class StaffChoiceField(forms.ModelChoiceField):
    """Staff users by name (the username when none is recorded)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


class AssignForm(forms.Form):
    assignee = StaffChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        help_text="Leave empty to unassign. Only staff who may work requests and see every selected request's "
        "organization are offered.",
    )

    def __init__(self, *args: Any, organization_ids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = staff_who_may_handle(organization_ids)


class CancelErasureForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        strip=True,
        help_text="Why the erasure does not run (the requester withdrew it, a legal hold); recorded on the request.",
    )
    notify_requester = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Email the reason to the requester with their remedies (as a rejection does).",
    )
