"""Intake, status transitions, the one extension and assignment.

Each change is one transaction: a compare-and-set UPDATE on the expected status, the recomputed deadlines,
one ``RequestTransition`` row and one audit-log entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from ulid import ULID

from consent.models import Subject
from core.crypto import new_data_key, seal
from core.db import execute_statements, insert_instance, instances_insert_statements
from core.enums import AuditAction
from core.jurisdiction_rules import NO_DSAR_REGIME, jurisdiction_rules
from core.jurisdictions import normalize_jurisdiction
from core.models import Organization
from core.problems import InvalidInput
from core.services import audit_entry, audit_log
from core.timeutil import ACCEPTED_DATE_RANGE_TEXT, is_accepted_date
from dsar.deadlines import DeadlineError, ExtensionNotice
from dsar.denials import with_denial_notice
from dsar.enums import (
    BACKDATED_CHANNELS,
    EXPORTING_TYPES,
    FINAL_STATUSES,
    LEGAL_TRANSITIONS,
    NO_VERIFICATION_NEEDED,
    DsarRegime,
    MessageKind,
    RequestStatus,
    RequestType,
)
from dsar.export_links import LINK_LIFETIME
from dsar.message_context import ErasureFacts, NamedOutcome
from dsar.models import DataSubjectRequest, RequestMessage, RequestTransition
from dsar.problems import AlreadyExtended, IllegalTransition, RequestClosed, StatusChanged, deadline_problem
from dsar.request_deadlines import extension_of, request_deadlines, request_today
from dsar.seal_contexts import request_key_owner, requester_context
from dsar.selectors import (
    RequesterContact,
    dsar_history,
    dsar_requester_contact,
    dsar_requester_email,
    erasure_outcome,
    opted_out_purposes,
    organization_deadline_layer,
    requester_email_index,
    subject_of_external_id,
)
from dsar.services.exports import export_link_issue
from dsar.services.messaging import message_facts, message_queue

# --- intake ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requester:
    """The person who asked; both fields are sealed before they reach the database."""

    email: str = ""
    name: str = ""


# The reason of the step that asks the requester to prove who they are (``dsar_identity_pending``).
IDENTITY_REQUESTED_REASON: Final = "identity verification requested"


@dataclass(frozen=True)
class RecordedIntake:
    """A request intake has just written, with the history and messages it wrote (oldest first), as its
    transaction committed them; what runs after the commit may move it on."""

    request: DataSubjectRequest
    history: list[RequestTransition]
    messages: list[RequestMessage]


def derive_regime(regime: str | None, jurisdiction: str) -> str:
    """The regime given, else the one the jurisdiction's rule names; refused when neither yields a DSAR law."""
    if regime:
        if regime not in DsarRegime.values:
            raise InvalidInput(
                f"regime must be one of {', '.join(DsarRegime.values)}.",
                errors=[{"pointer": "/regime", "detail": "unknown regime"}],
            )
        return regime
    if not jurisdiction:
        raise InvalidInput(
            "Give the requester's jurisdiction or the regime.",
            errors=[{"pointer": "/jurisdiction", "detail": "required when regime is not given"}],
        )
    derived = jurisdiction_rules().rule_for(jurisdiction).dsar.regime
    if derived == NO_DSAR_REGIME or derived not in DsarRegime.values:
        raise InvalidInput(
            f"No data-subject-request law applies in {jurisdiction}; give the regime explicitly.",
            errors=[{"pointer": "/regime", "detail": "required for this jurisdiction"}],
        )
    return derived


def dsar_intake(
    *,
    organization: Organization,
    request_type: str,
    channel: str,
    actor: str,
    jurisdiction: str = "",
    regime: str | None = None,
    subject_external_id: str = "",
    received_at: datetime | None = None,
    requester: Requester | None = None,
    language: str = "",
    subject: Subject | None = None,
    idempotency_key: str = "",
    request_digest: str = "",
    identity_requested_by: str = "",
) -> RecordedIntake:
    """Record a new request, its deadlines, the intake step of its history and the receipt confirmation to the
    requester (``services.pipeline.dsar_create`` adds what happens after the commit). ``subject``: the ledger's
    subject legal chose (its external id is recorded with it); else the one ``subject_external_id`` names, if any.
    ``identity_requested_by``: the request moves on to identity_pending in the same transaction, that actor's step
    (for a requester with an email): the history, deadlines and audit entries are those of intake followed by
    ``dsar_identity_pending``, written in one transaction (issue #16). The caller then sends the link's task
    (``dsar_identity_link_send``), which sends the receipt first.
    """
    requester = requester or Requester()
    if identity_requested_by and (not requester.email or request_type in NO_VERIFICATION_NEEDED):
        raise ValueError("identity is requested only of a requester with an email, for a request verified first")
    now = timezone.now()
    subject, subject_external_id = request_subject_of(organization, subject, subject_external_id)
    language = normalize_language(language)
    if jurisdiction:
        try:
            jurisdiction = normalize_jurisdiction(jurisdiction)
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[{"pointer": "/jurisdiction", "detail": str(exc)}]) from exc
    if received_at is None:
        received_at = now
    else:
        if not is_accepted_date(received_at):
            raise InvalidInput(
                f"received_at must be {ACCEPTED_DATE_RANGE_TEXT}.",
                errors=[{"pointer": "/received_at", "detail": f"must be {ACCEPTED_DATE_RANGE_TEXT}"}],
            )
        if channel not in BACKDATED_CHANNELS:
            raise InvalidInput(
                "received_at can be set only for requests received by email or mail.",
                errors=[{"pointer": "/received_at", "detail": "only for channel email or mail"}],
            )
        if received_at > now + timedelta(seconds=settings.PROVENANT_ALLOWED_CLOCK_SKEW_SECONDS):
            raise InvalidInput(
                "received_at lies in the future.",
                errors=[{"pointer": "/received_at", "detail": "must not be in the future"}],
            )
        received_at = min(received_at, now)  # within the allowed clock skew: it arrived now
    resolved_regime = derive_regime(regime, jurisdiction)
    steps = [RequestTransition(at=now, actor=actor, from_status="", to_status=RequestStatus.RECEIVED)]
    if identity_requested_by:
        steps.append(
            RequestTransition(
                at=now,
                actor=identity_requested_by,
                from_status=RequestStatus.RECEIVED,
                to_status=RequestStatus.IDENTITY_PENDING,
                reason=IDENTITY_REQUESTED_REASON,
            )
        )
    result = request_deadlines(
        regime=resolved_regime,
        request_type=request_type,
        jurisdiction=jurisdiction,
        received_at=received_at,
        transitions=steps,
        organization_settings=organization_deadline_layer(organization),
    )
    public_id = str(ULID())
    data_key, wrapped = new_data_key(owner=request_key_owner(public_id))

    def sealed(value: str, field: str) -> str:
        return seal(data_key, value, context=requester_context(public_id, field)) if value else ""

    audit_entries = [
        audit_entry(
            actor=actor,
            action=AuditAction.DSAR_RECEIVED,
            object_type="dsar",
            object_id=public_id,
            organization=organization,
            data={
                "type": request_type,
                "regime": resolved_regime,
                "channel": channel,
                "due_on": str(result.enforced_due),
            },
        ),
        *(
            audit_entry(
                actor=step.actor,
                action=AuditAction.DSAR_TRANSITIONED,
                object_type="dsar",
                object_id=public_id,
                organization=organization,
                data={"from": step.from_status, "to": step.to_status},
            )
            for step in steps[1:]
        ),
    ]
    with transaction.atomic():
        request = DataSubjectRequest(
            organization=organization,
            public_id=public_id,
            subject_external_id=subject_external_id,
            subject=subject,
            type=request_type,
            regime=resolved_regime,
            jurisdiction=jurisdiction,
            channel=channel,
            language=language,
            received_at=received_at,
            status=steps[-1].to_status,
            requester_email_sealed=sealed(requester.email, "email"),
            requester_name_sealed=sealed(requester.name, "name"),
            requester_email_index=requester_email_index(organization.pk, requester.email),
            wrapped_data_key=wrapped,
            deadlines=result.to_dict(),
            due_on=result.enforced_due,
            created_at=now,
            updated_at=now,
            idempotency_key=idempotency_key,
            request_digest=request_digest if idempotency_key else "",
        )
        insert_instance(request)
        for step in steps:
            step.request = request
        # The history and the audit entries in one round trip, in order (their ids follow the rows).
        execute_statements([*instances_insert_statements(steps), *instances_insert_statements(audit_entries)])
        # CCPA regs §7021(a): confirm receipt within 10 business days, saying how we verify and when we answer.
        # With the identity step, the link's task sends the receipt before the link (one task, not two).
        receipt = message_queue(
            request=request,
            kind=MessageKind.RECEIPT,
            key="receipt",
            facts=message_facts(request),
            sent_by_step_task=bool(identity_requested_by),
        )
    return RecordedIntake(request=request, history=steps, messages=[receipt] if receipt is not None else [])


def request_subject_of(
    organization: Organization, subject: Subject | None, subject_external_id: str
) -> tuple[Subject | None, str]:
    """The subject a request is about and the external id recorded with it, kept consistent: the chosen subject's
    id, else the subject the given id names (None while the ledger has none)."""
    if subject is not None:
        if subject.organization_id != organization.pk:
            raise InvalidInput(
                "The subject belongs to another organization.",
                errors=[{"pointer": "/subject", "detail": "not a subject of this organization"}],
            )
        return subject, subject.external_id
    if subject_external_id:
        return subject_of_external_id(organization=organization, external_id=subject_external_id), subject_external_id
    return None, ""


LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8}){0,3}$")


def normalize_language(value: str) -> str:
    """A BCP 47 language tag, lower case (``de``, ``de-at``); blank when none was given. Refused when malformed."""
    tag = (value or "").strip().lower().replace("_", "-")
    if tag and (len(tag) > 16 or not LANGUAGE_TAG.match(tag)):
        raise InvalidInput(
            "language must be a language tag such as en or de.",
            errors=[{"pointer": "/language", "detail": "not a language tag"}],
        )
    return tag


# --- workflow --------------------------------------------------------------------------------------------------


def _apply(request: DataSubjectRequest, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(request, name, value)


def dsar_transition(
    *,
    request: DataSubjectRequest,
    to_status: str,
    actor: str,
    reason: str = "",
    notify_requester: bool = False,
    expected_status: str | None = None,
) -> DataSubjectRequest:
    """Move a request along the workflow; refused (409) when illegal or when its status changed meanwhile.
    ``notify_requester``: a rejection is also emailed to the requester (after commit). ``expected_status``: the
    caller's compare-and-set; a request in another status is refused with ``status-changed``."""
    expected = request.status
    if expected_status is not None and expected_status != expected:
        raise StatusChanged(
            f"The request is {expected}, not {expected_status}; nothing changed.",
            expected_status=expected_status,
            status_now=expected,
        )
    if to_status not in RequestStatus.values:
        raise InvalidInput(f"Unknown status {to_status!r}.", errors=[{"pointer": "/status", "detail": "unknown"}])
    if to_status not in LEGAL_TRANSITIONS[expected]:
        raise IllegalTransition(
            f"A request in status {expected} cannot move to {to_status}.", from_status=expected, to_status=to_status
        )
    reason = reason.strip()
    staff_reason = reason
    if to_status == RequestStatus.REJECTED and not reason:
        raise InvalidInput("A rejection needs a reason.", errors=[{"pointer": "/reason", "detail": "required"}])
    if to_status == RequestStatus.REJECTED:
        # Denials carry the person's remedies: Art. 12(4) under the GDPR, the appeal under US state laws.
        rule = jurisdiction_rules().rule_for(request.jurisdiction or None)
        reason = with_denial_notice(
            reason, regime=request.regime, appeal_response_days=rule.dsar.appeal_response_days if rule.dsar else None
        )
    now = timezone.now()
    step = RequestTransition(
        request=request, at=now, actor=actor, from_status=expected, to_status=to_status, reason=reason
    )
    with transaction.atomic():
        history = dsar_history(request)
        result = request_deadlines(
            regime=request.regime,
            request_type=request.type,
            jurisdiction=request.jurisdiction,
            received_at=request.received_at,
            transitions=[*history, step],
            extension=extension_of(request),
            stored=request.deadlines,
        )
        values: dict[str, Any] = {
            "status": to_status,
            "deadlines": result.to_dict(),
            "due_on": result.enforced_due,
            "updated_at": now,
        }
        if to_status == RequestStatus.REJECTED:
            values["rejection_reason"] = reason
        claimed = DataSubjectRequest.objects.filter(pk=request.pk, status=expected).update(**values)
        if not claimed:
            raise StatusChanged("The request's status changed meanwhile; reload it and try again.")
        insert_instance(step)
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_TRANSITIONED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"from": expected, "to": to_status},
        )
        _apply(request, values)
        if to_status == RequestStatus.COMPLETED:
            _completion_message(request, actor=actor, now=now)
        elif to_status == RequestStatus.REJECTED and notify_requester:
            message_queue(
                request=request,
                kind=MessageKind.DENIAL,
                key="rejected",
                facts=message_facts(request, reason=staff_reason),
            )
    return request


def _completion_message(request: DataSubjectRequest, *, actor: str, now: datetime) -> None:
    """The request is done: tell the requester what was done. Access/portability: the export's one download
    link is signed now (stored expiry, audited) and sent; without a requester address no link is issued (staff
    with ``dsar.download_dsarexport`` download it from the admin). Deletion: what was erased and who was told."""
    facts: dict[str, Any] = {}
    if request.type in EXPORTING_TYPES:
        if not dsar_requester_email(request):
            return
        url = export_link_issue(request=request, actor=actor, now=now)
        if url is None:
            return  # no export to hand over, or its link went out before
        facts |= {"download_url": url, "download_expires_at": now + LINK_LIFETIME}
    elif request.type == RequestType.DELETION:
        outcome = erasure_outcome(request)
        if outcome is not None:
            facts["erasure"] = ErasureFacts(
                profile_erased=outcome.profile_erased,
                exports_deleted=outcome.exports_deleted,
                systems=tuple(NamedOutcome(name, ok) for name, ok in outcome.systems),
            )
            facts["recipients"] = tuple(NamedOutcome(name, ok) for name, ok in outcome.recipients)
    elif request.type == RequestType.OPT_OUT_OF_SALE:
        facts["opted_out_purposes"] = tuple(opted_out_purposes(request))
    message_queue(request=request, kind=MessageKind.COMPLETION, key="completion", facts=message_facts(request, **facts))


def dsar_extend(
    *, request: DataSubjectRequest, reason_code: str, notice_sent_on: date, actor: str
) -> DataSubjectRequest:
    """Extend the deadline once (GDPR Art. 12(3); Civ. Code §1798.130), for a notice sent in time."""
    if request.status in FINAL_STATUSES:
        raise RequestClosed("A completed or rejected request cannot be extended.")
    if request.is_extended:
        raise AlreadyExtended("The request was extended already; the law allows one extension.")
    if notice_sent_on > request_today(request):  # today where the request's days are counted
        raise InvalidInput(
            "notice_sent_on lies in the future.",
            errors=[{"pointer": "/notice_sent_on", "detail": "must not be in the future"}],
        )
    try:
        notice = ExtensionNotice(notice_sent_on, reason_code)
    except DeadlineError as exc:
        raise deadline_problem(exc) from exc
    now = timezone.now()
    with transaction.atomic():
        history = dsar_history(request)
        result = request_deadlines(
            regime=request.regime,
            request_type=request.type,
            jurisdiction=request.jurisdiction,
            received_at=request.received_at,
            transitions=history,
            extension=notice,
            stored=request.deadlines,
        )
        values: dict[str, Any] = {
            "is_extended": True,
            "extension_reason_code": reason_code,
            "extension_notice_sent_on": notice_sent_on,
            "deadlines": result.to_dict(),
            "due_on": result.enforced_due,
            "updated_at": now,
        }
        claimed = (
            DataSubjectRequest.objects.filter(pk=request.pk, status=request.status, is_extended=False)
            .exclude(status__in=FINAL_STATUSES)
            .update(**values)
        )
        if not claimed:
            current = DataSubjectRequest.objects.filter(pk=request.pk).values_list("is_extended", flat=True).first()
            if current:
                raise AlreadyExtended("The request was extended already; the law allows one extension.")
            raise StatusChanged("The request's status changed meanwhile; reload it and try again.")
        insert_instance(
            RequestTransition(
                request=request,
                at=now,
                actor=actor,
                from_status=request.status,
                to_status=request.status,
                reason=f"extended ({reason_code}); notice sent {notice_sent_on.isoformat()}",
            )
        )
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_EXTENDED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={
                "reason_code": reason_code,
                "notice_sent_on": notice_sent_on.isoformat(),
                "due_on": str(result.enforced_due),
            },
        )
        _apply(request, values)
        # GDPR Art. 12(3): the person is told of the extension and its reasons.
        message_queue(
            request=request,
            kind=MessageKind.EXTENSION,
            key="extension",
            facts=message_facts(
                request,
                extension_reason_code=reason_code,
                extension_rule=str((result.rules or {}).get(result.enforced_key, "")),
            ),
        )
    return request


def dsar_assign(*, request: DataSubjectRequest, assignee: Any, actor: str) -> DataSubjectRequest:
    """Hand the request to a staff member of the legal team (None: unassign). Audited."""
    if assignee is not None and not assignee.is_staff:
        raise InvalidInput(
            "Only staff users can be assigned.", errors=[{"pointer": "/assignee", "detail": "not staff"}]
        )
    with transaction.atomic():
        DataSubjectRequest.objects.filter(pk=request.pk).update(assignee=assignee, updated_at=timezone.now())
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_ASSIGNED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"assignee": assignee.pk if assignee is not None else None},
        )
    request.refresh_from_db()
    return request


def dsar_requester_reveal(*, request: DataSubjectRequest, actor: str) -> RequesterContact:
    """The requester's contact in clear for a staff member (the caller checked ``dsar.reveal_requester_contact``);
    every reveal is audited, with the fields shown but never their values."""
    contact = dsar_requester_contact(request)
    audit_log(
        actor=actor,
        action=AuditAction.DSAR_REQUESTER_CONTACT_REVEALED,
        object_type="dsar",
        object_id=request.public_id,
        organization=request.organization,
        data={"fields": [name for name in ("email", "name") if getattr(contact, name)]},
    )
    return contact
