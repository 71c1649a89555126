"""Reads for the messages to the requester: which wording a message uses (the organization's override or the
shipped default), what an erasure reached, the messages waiting to be sent, and a request's message history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from core.db import select_many
from core.models import Organization
from dsar.enums import ConnectorCallStatus, FulfilmentStepStatus, MessageStatus
from dsar.message_defaults import default_source, default_version_id, message_language
from dsar.message_sandbox import TemplateSource
from dsar.models import ConnectorCall, DataSubjectRequest, FulfilmentStep, MessageTemplate, RequestMessage


@dataclass(frozen=True)
class ChosenTemplate:
    source: TemplateSource
    version_id: str
    is_override: bool


def message_template_default(*, kind: str, language: str) -> ChosenTemplate:
    lang = message_language(language)
    return ChosenTemplate(default_source(kind, lang), default_version_id(kind, lang), False)


# Every message queued reads this (issue #16): one statement, written once instead of compiled per call.
_ACTIVE_OVERRIDE = (
    f"SELECT id, subject, body_text, body_html, version FROM {MessageTemplate._meta.db_table} "  # noqa: S608
    "WHERE organization_id = %s AND kind = %s AND language = %s AND is_active"
)


def message_template_for(*, organization: Organization, kind: str, language: str) -> ChosenTemplate:
    """The organization's active override of ``kind`` in the message language, else the shipped default."""
    lang = message_language(language)
    found = select_many([(_ACTIVE_OVERRIDE, [organization.pk, kind, lang])])[0]
    if not found:
        return message_template_default(kind=kind, language=lang)
    pk, subject, body_text, body_html, version = found[0]
    override = MessageTemplate(pk=pk, version=version)
    return ChosenTemplate(TemplateSource(subject, body_text, body_html), override.version_id, True)


@dataclass(frozen=True)
class ErasureOutcome:
    """What a deletion request's erase step did: Provenant's own records, earlier exports, and who was told."""

    profile_erased: bool
    exports_deleted: int
    systems: list[tuple[str, bool]]
    recipients: list[tuple[str, bool]]


def erasure_outcome(request: DataSubjectRequest) -> ErasureOutcome | None:
    """The erase step's result and calls (names, and whether each confirmed); None when it has not run."""
    step = FulfilmentStep.objects.filter(request=request, step="erase", status=FulfilmentStepStatus.DONE).first()
    if step is None:
        return None
    calls = (
        ConnectorCall.objects.filter(request=request, step="erase")
        .select_related("connector", "recipient")
        .order_by("target_key")
    )
    systems: list[tuple[str, bool]] = []
    recipients: list[tuple[str, bool]] = []
    for call in calls:
        confirmed = call.status == ConnectorCallStatus.ANSWERED
        if call.recipient is not None:
            recipients.append((call.recipient.name, confirmed))
        elif call.connector is not None:
            systems.append((call.connector.name, confirmed))
    return ErasureOutcome(
        profile_erased=bool(step.result.get("erased")),
        exports_deleted=int(step.result.get("exports_shredded") or 0),
        systems=systems,
        recipients=recipients,
    )


def opted_out_purposes(request: DataSubjectRequest) -> list[str]:
    """The purposes an opt-out request's step recorded, by key."""
    step = FulfilmentStep.objects.filter(request=request, step="opt_out", status=FulfilmentStepStatus.DONE).first()
    return [str(key) for key in (step.result.get("purposes") or [])] if step is not None else []


def message_ids_due(*, now: datetime, limit: int = 500) -> list[int]:
    """Messages to (re)send: pending and due, or claimed by a sender whose lease ran out (it died mid-send)."""
    due = Q(status=MessageStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=MessageStatus.SENDING, claimed_until__lt=now
    )
    ids = RequestMessage.objects.filter(due).order_by("next_attempt_at", "id").values_list("pk", flat=True)
    return list(ids[:limit])


def message_ids_never_tried(request_id: int) -> list[int]:
    """The request's messages queued and never tried yet, oldest first."""
    waiting = RequestMessage.objects.filter(request_id=request_id, status=MessageStatus.PENDING, attempts=0)
    return list(waiting.order_by("id").values_list("pk", flat=True))


def request_messages(request: DataSubjectRequest) -> QuerySet[RequestMessage]:
    """The request's messages, oldest first (never their content: it is wiped once sent)."""
    return RequestMessage.objects.filter(request=request).order_by("created_at", "id")
