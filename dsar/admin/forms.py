"""The forms of the legal team's DSAR pages: intake, and the inputs of the workflow actions."""

from __future__ import annotations

from datetime import date, datetime

from django import forms
from django.contrib.admin.widgets import AdminDateWidget, AdminSplitDateTime
from django.contrib.auth import get_user_model

from core.timeutil import ACCEPTED_DATE_RANGE_TEXT, is_accepted_date
from dsar.deadlines import EXTENSION_REASON_CODES
from dsar.enums import DsarRegime
from dsar.models import DataSubjectRequest


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
        fields = ("organization", "type", "jurisdiction", "regime", "channel", "received_at")


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


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username"),
        required=False,
        help_text="Leave empty to unassign.",
    )


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
