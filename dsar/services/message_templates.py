"""The organization's own wording of the messages to requesters: checked and saved (each change a new version,
audited), reset to the shipped default, and previewed against a sample request (which writes and sends nothing)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.enums import AuditAction
from core.models import Organization
from core.problems import InvalidInput
from core.services import audit_log
from dsar.enums import MESSAGE_LANGUAGES, MESSAGE_REQUIRED_VARIABLES, MessageKind
from dsar.message_context import CONTEXT_VARIABLES, message_context, sample_facts
from dsar.message_sandbox import RenderedMessage, TemplateRejected, TemplateSource, render_message, variables_in
from dsar.models import MessageTemplate


def _invalid(part: str, detail: str) -> InvalidInput:
    return InvalidInput(f"{part}: {detail}", errors=[{"pointer": f"/{part}", "detail": detail}])


def message_template_check(
    *, organization: Organization, kind: str, language: str, source: TemplateSource
) -> RenderedMessage:
    """Refuse (InvalidInput, pointing at the part) a template that does not compile in the sandbox, names a
    variable messages do not have, leaves out what the person needs (the link, the remedies), or does not render
    the sample request; returns the sample rendering."""
    if kind not in MessageKind.values:
        raise _invalid("kind", f"must be one of {', '.join(MessageKind.values)}")
    if language not in MESSAGE_LANGUAGES:
        raise _invalid("language", f"must be one of {', '.join(MESSAGE_LANGUAGES)}")
    if not source.body_text.strip():
        raise _invalid("body_text", "required: every message has a plain-text body")
    try:
        for part, text, html in (
            ("subject", source.subject, False),
            ("body_text", source.body_text, False),
            ("body_html", source.body_html, True),
        ):
            unknown = variables_in(text, part=part, html=html) - set(CONTEXT_VARIABLES)
            if unknown:
                raise TemplateRejected(
                    f"unknown variable(s) {', '.join(sorted(unknown))}; the variables are listed below the form",
                    part=part,
                )
            if part != "subject" and text.strip():
                missing = set(MESSAGE_REQUIRED_VARIABLES.get(kind, ())) - variables_in(text, part=part, html=html)
                if missing:
                    raise TemplateRejected(
                        f"this message must show {', '.join(sorted(missing))} (the person needs it)", part=part
                    )
        context = message_context(sample_facts(kind=kind, organization_name=organization.name), language=language)
        return render_message(source, context, language=language, checking=True)
    except TemplateRejected as exc:
        raise _invalid(exc.part, str(exc)) from exc


def message_template_save(
    *,
    organization: Organization,
    kind: str,
    language: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    actor: str,
) -> MessageTemplate:
    """Create or change the organization's override of ``kind`` in ``language`` (checked first; nothing is
    written when it is refused); every change is a new version, active, and audited."""
    source = TemplateSource(subject.strip(), body_text, body_html)
    message_template_check(organization=organization, kind=kind, language=language, source=source)
    now = timezone.now()
    with transaction.atomic():
        template, created = MessageTemplate.objects.select_for_update().get_or_create(
            organization=organization,
            kind=kind,
            language=language,
            defaults={
                "subject": source.subject,
                "body_text": body_text,
                "body_html": body_html,
                "updated_at": now,
                "updated_by": actor,
            },
        )
        if not created:
            MessageTemplate.objects.filter(pk=template.pk).update(
                subject=source.subject,
                body_text=body_text,
                body_html=body_html,
                is_active=True,
                version=F("version") + 1,
                updated_at=now,
                updated_by=actor,
            )
            template.refresh_from_db()
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_MESSAGE_TEMPLATE_CHANGED,
            object_type="message_template",
            object_id=f"{kind}:{language}",
            organization=organization,
            data={"version": template.version_id, "sha256": source.digest},
        )
    return template


def message_template_reset(*, template: MessageTemplate, actor: str) -> MessageTemplate:
    """Back to the shipped default: the override stays on record, inactive, with a new version number."""
    with transaction.atomic():
        MessageTemplate.objects.filter(pk=template.pk).update(
            is_active=False, version=F("version") + 1, updated_at=timezone.now(), updated_by=actor
        )
        template.refresh_from_db()
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_MESSAGE_TEMPLATE_RESET,
            object_type="message_template",
            object_id=f"{template.kind}:{template.language}",
            organization=template.organization,
            data={"version": template.version_id},
        )
    return template


def message_template_preview(
    *, organization: Organization, kind: str, language: str, source: TemplateSource
) -> RenderedMessage:
    """The message rendered for the sample request; writes nothing and sends nothing (InvalidInput when the
    template is refused)."""
    return message_template_check(organization=organization, kind=kind, language=language, source=source)
