"""Helpers and list filters shared by the provenance admin pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from consent.models import Subject
from core.admin import NoEditingMixin
from core.selectors import staff_organization_ids
from provenance.enums import StampReason
from provenance.models import Recipient, StampRecord

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


REASON_CODES = tuple(StampReason.values)


def reason_label(code: object) -> str:
    """A stamp refusal reason in words (its code is what the API and the stamp carry)."""
    return str(StampReason(code).label) if code in REASON_CODES else str(code)


def recipient_label(recipient: Recipient) -> str:
    return f"{recipient.organization.slug} / {recipient.key}"


def admin_link(url_name: str, pk: Any, text: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[pk]), text)


class ViewOnlyWithActionsAdmin(NoEditingMixin, admin.ModelAdmin):
    """Like :class:`ReadOnlyModelAdmin` (no add, change or delete, even for superusers), but offering
    the actions it declares, each a service call."""

    def has_model_change_permission(self, request: HttpRequest) -> bool:
        """For the actions: the model's ``change`` permission itself, since ``has_change_permission``
        is False to keep the pages read-only."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


class RecipientListFilter(admin.RelatedFieldListFilter):
    """Recipient keys repeat across organizations, so the choices name both; a staff user limited to some
    organizations is offered only theirs."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, StrOrPromise]]:
        recipients = Recipient.objects.select_related("organization").order_by("organization__slug", "key")
        ids = staff_organization_ids(request.user)
        if ids is not None:
            recipients = recipients.filter(organization_id__in=ids)
        return [(str(recipient.pk), recipient_label(recipient)) for recipient in recipients]


class SubjectFilter(admin.SimpleListFilter):
    """``?subject=<Subject pk>``: the rows about one subject, by organization and external id, so rows
    written before the ledger knew the subject are included too. Shown only when given."""

    title = "subject"
    parameter_name = "subject"
    subject: Subject | None = None

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        if not value:
            return []
        if value.isascii() and value.isdigit():
            subjects = Subject.objects.select_related("organization").filter(pk=int(value))
            ids = staff_organization_ids(request.user)
            if ids is not None:  # another organization's subject is "unknown": its id is never shown
                subjects = subjects.filter(organization_id__in=ids)
            self.subject = subjects.first()
        if self.subject is None:
            return [(value, "unknown subject")]  # still applied: it matches nothing
        return [(value, f"{self.subject.organization.slug} / {self.subject.external_id}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        if self.subject is None:
            return queryset.none()
        return queryset.filter(
            organization_id=self.subject.organization_id, subject_external_id=self.subject.external_id
        )


class SubjectExternalIdFilter(admin.SimpleListFilter):
    """``?subject_external_id=<id>``: the rows about one external subject id. Shown only when given."""

    title = "subject id"
    parameter_name = "subject_external_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(subject_external_id=value) if value else queryset


class StampReasonFilter(admin.SimpleListFilter):
    """Blocked stamps by the reason any of their purposes was refused (``reasons`` is a JSON list of
    ``{purpose, reason, rule}``)."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(code, reason_label(code)) for code in REASON_CODES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[StampRecord]) -> QuerySet[StampRecord]:
        value = self.value()
        if not value:
            return queryset
        if value not in REASON_CODES:
            return queryset.none()
        if connection.features.supports_json_field_contains:
            return queryset.filter(reasons__contains=[{"reason": value}])
        # SQLite (make run) has no JSON containment; the codes are unique upper-case tokens.
        return queryset.filter(reasons__icontains=f'"{value}"')
