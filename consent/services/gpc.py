"""Honoring Global Privacy Control on the server, bound to the known person, kept as evidence.

A signal (the ``Sec-GPC: 1`` header on an API call made on the person's behalf, or
``navigator.globalPrivacyControl === true`` reported by a client) is turned into one opt-out event
per covered purpose for the subject and every subject linked to it (CCPA regs §7025(c)(1)), written
by the built-in ``gpc`` source with method ``gpc_signal``, and not again while those purposes are
already opted out by GPC. Linking subjects later carries an existing GPC opt-out across the link.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from consent.catalog import organization_catalog
from consent.enums import OPT_IN_STATUSES, Action, CollectionMethod, GpcChannel
from consent.gpc import GpcDecision, GpcOutcome, covered_purpose_keys, gpc_decision
from consent.models import ConsentState, GpcSignalReceipt, Subject, SubjectLink
from consent.selectors import first_gpc_opt_outs, is_settled_for_gpc, subject_cluster_ids
from consent.services.appending import append_events, atomic_with_retries
from consent.services.builtin_sources import gpc_source
from consent.services.chain_locks import lock_subjects
from consent.services.validation import ConsentEventInput, refuse_suppressed_ids
from core.enums import AuditAction
from core.models import Organization
from core.problems import InvalidInput
from core.services import audit_log

logger = logging.getLogger("consent.services")

RECEIPT_REFRESH = timedelta(hours=1)


def linked_cluster(*, organization: Organization, subject: Subject) -> list[Subject]:
    """The subject and every subject linked to it, directly or through others."""
    ids = subject_cluster_ids(organization=organization, subject=subject)
    return list(Subject.objects.filter(pk__in=ids).order_by("external_id"))


def gpc_signal_apply(
    *,
    organization: Organization,
    subject_id: str,
    channel: str,
    raw_value: str = "1",
    jurisdiction: str | None = None,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> GpcOutcome | None:
    """Honor a GPC signal received for ``subject_id`` (creating the subject if it is new).

    The jurisdiction is the one sent, else the subject's last known, else that of a linked subject.
    Returns None (after logging) when none is known: the opt-out events need one. The signals
    endpoint asks for it up front. ``now`` (default: the clock) dates the decision and the receipt.
    Writes in the caller's transaction (a savepoint of it: a refused signal leaves no trace)."""
    now = now or timezone.now()
    # A signal naming an erased person writes nothing (not even onto the erased subject).
    refuse_suppressed_ids(organization, {subject_id: "/subject_id"})
    with transaction.atomic():
        subject = lock_subjects(organization, {subject_id})[subject_id]
        cluster = linked_cluster(organization=organization, subject=subject)
        jurisdiction = (
            jurisdiction
            or subject.jurisdiction
            or next((s.jurisdiction for s in cluster if s.jurisdiction), None)
            or GpcSignalReceipt.objects.filter(subject=subject).values_list("jurisdiction", flat=True).first()
            or None
        )
        if jurisdiction and not subject.jurisdiction:
            # Remember where the person is even when nothing else is written (an unhonored signal).
            Subject.objects.filter(pk=subject.pk).update(jurisdiction=jurisdiction)
            subject.jurisdiction = jurisdiction
        if not jurisdiction:
            logger.warning("GPC signal for subject %s not applied: no jurisdiction known", subject.pk)
            transaction.set_rollback(True)  # a refused signal leaves no trace, not even a new subject
            return None
        decision = gpc_decision(
            jurisdiction=jurisdiction, honor_everywhere=organization.honor_gpc_everywhere, on=now.date()
        )
        outcome = _apply(organization, decision, cluster, occurred_at or now, jurisdiction)
        _keep_receipt(organization, subject, decision, channel, raw_value, now, outcome)
        for member in cluster:
            if member.pk != subject.pk and outcome.events_written:
                _keep_receipt(organization, member, decision, GpcChannel.LINK, "", now, outcome)
    return outcome


def gpc_signal_record(
    *,
    organization: Organization,
    subject_id: str,
    channel: str,
    raw_value: str = "1",
    jurisdiction: str | None = None,
    occurred_at: datetime | None = None,
    now: datetime | None = None,
) -> GpcOutcome | None:
    """Honor a GPC signal in a transaction of its own (see ``gpc_signal_apply``)."""
    return atomic_with_retries(
        lambda: gpc_signal_apply(
            organization=organization,
            subject_id=subject_id,
            channel=channel,
            raw_value=raw_value,
            jurisdiction=jurisdiction,
            occurred_at=occurred_at,
            now=now,
        )
    )


def _apply(
    organization: Organization,
    decision: GpcDecision,
    cluster: list[Subject],
    occurred_at: datetime,
    jurisdiction: str,
) -> GpcOutcome:
    outcome = GpcOutcome(decision=decision, subjects=[s.external_id for s in cluster])
    if not decision.is_honored:
        return outcome
    catalog = organization_catalog(organization)
    keys = covered_purpose_keys(
        decision, ((p.key, p.is_sale_or_sharing, p.is_targeted_advertising) for p in catalog.purposes.values())
    )
    outcome.purposes = keys
    if not keys:
        return outcome
    lock_subjects(organization, {s.external_id for s in cluster})
    purposes = {catalog.purposes[k].pk: k for k in keys}
    states = {
        (row.subject_id, row.purpose_id): row
        for row in ConsentState.objects.filter(subject__in=cluster, purpose_id__in=purposes).select_related(
            "basis_event"
        )
    }
    first_signal = first_gpc_opt_outs(cluster, list(purposes))
    source = gpc_source(organization)
    items: list[ConsentEventInput] = []
    for member in cluster:
        for purpose_id, key in purposes.items():
            state = states.get((member.pk, purpose_id))
            if state is not None and is_settled_for_gpc(state, first_signal.get((member.pk, purpose_id))):
                continue  # "not again on every later request while already opted out by GPC"
            opted_in = state is not None and state.status in OPT_IN_STATUSES
            items.append(
                ConsentEventInput(
                    subject_id=member.external_id,
                    purpose=key,
                    action=Action.WITHDRAW if opted_in else Action.REFUSE,
                    occurred_at=occurred_at,
                    source=source.key,
                    collection_method=CollectionMethod.GPC_SIGNAL,
                    jurisdiction=member.jurisdiction or jurisdiction,
                    gpc=True,
                )
            )
    if items:
        append_events(organization=organization, items=items, allow_system_actions=True, now=timezone.now())
        outcome.events_written = len(items)
    return outcome


def _keep_receipt(
    organization: Organization,
    subject: Subject,
    decision: GpcDecision,
    channel: str,
    raw_value: str,
    now: datetime,
    outcome: GpcOutcome,
) -> None:
    receipt = GpcSignalReceipt.objects.filter(subject=subject).first()
    if receipt is None:
        try:
            with transaction.atomic():
                GpcSignalReceipt.objects.create(
                    organization=organization,
                    subject=subject,
                    first_received_at=now,
                    last_received_at=now,
                    channel=channel,
                    raw_value=raw_value[:64],
                    jurisdiction=decision.jurisdiction or "",
                    is_honored=decision.is_honored,
                    honored_at=now if decision.is_honored else None,
                    is_legally_required=decision.is_legally_required,
                    purposes_opted_out=outcome.purposes if decision.is_honored else [],
                )
        except IntegrityError:
            logger.info("GPC receipt created concurrently for subject %s", subject.pk)
        return
    if outcome.events_written == 0 and now - receipt.last_received_at < RECEIPT_REFRESH:
        return  # nothing new to keep: avoid a write on every request carrying the signal
    updates: dict[str, object] = {
        "last_received_at": now,
        "channel": channel,
        "raw_value": raw_value[:64],
        "jurisdiction": decision.jurisdiction or receipt.jurisdiction,
        "is_legally_required": receipt.is_legally_required or decision.is_legally_required,
    }
    if decision.is_honored:
        updates["is_honored"] = True
        updates["honored_at"] = receipt.honored_at or now
        updates["purposes_opted_out"] = sorted(set(receipt.purposes_opted_out) | set(outcome.purposes))
    GpcSignalReceipt.objects.filter(pk=receipt.pk).update(**updates)


def subject_link(*, organization: Organization, subject_id: str, linked_subject_id: str, actor: str) -> list[str]:
    """Record that two subjects are the same person; carry an existing GPC opt-out across the link.

    Returns the external ids of the merged cluster."""
    if subject_id == linked_subject_id:
        raise InvalidInput(
            "A subject cannot be linked to itself.", errors=[{"pointer": "/subject_id", "detail": "same"}]
        )
    return atomic_with_retries(lambda: _link(organization, subject_id, linked_subject_id, actor))


def _link(organization: Organization, subject_id: str, linked_subject_id: str, actor: str) -> list[str]:
    refuse_suppressed_ids(organization, {subject_id: "/", linked_subject_id: "/subject_id"})
    subjects = lock_subjects(organization, {subject_id, linked_subject_id})
    first, second = sorted((subjects[subject_id], subjects[linked_subject_id]), key=lambda s: s.pk)
    created = SubjectLink.objects.filter(subject=first, linked_subject=second).exists() is False
    if created:
        SubjectLink.objects.create(organization=organization, subject=first, linked_subject=second, created_by=actor)
        audit_log(
            actor=actor,
            action=AuditAction.SUBJECT_LINKED,
            object_type="subject",
            object_id=first.pk,
            organization=organization,
            data={"linked_subject": second.pk},
        )
    cluster = linked_cluster(organization=organization, subject=first)
    honored = GpcSignalReceipt.objects.filter(subject__in=cluster, is_honored=True).order_by("honored_at").first()
    if honored is not None:
        decision = gpc_decision(
            jurisdiction=honored.jurisdiction or None,
            honor_everywhere=organization.honor_gpc_everywhere,
            on=timezone.now().date(),
        )
        now = timezone.now()
        outcome = _apply(organization, decision, cluster, now, honored.jurisdiction or "US")
        if outcome.events_written:
            for member in cluster:
                if member.pk != honored.subject_id:
                    _keep_receipt(organization, member, decision, GpcChannel.LINK, "", now, outcome)
    return [s.external_id for s in cluster]


def organization_gpc_settings_update(*, organization: Organization, honor_everywhere: bool, actor: str) -> Organization:
    """Change whether GPC is honored everywhere; moves /.well-known/gpc.json's lastUpdate."""
    with transaction.atomic():
        updated = (
            Organization.objects.filter(pk=organization.pk)
            .exclude(honor_gpc_everywhere=honor_everywhere)
            .update(honor_gpc_everywhere=honor_everywhere, gpc_settings_updated_at=timezone.localdate())
        )
        if updated:
            audit_log(
                actor=actor,
                action=AuditAction.ORGANIZATION_GPC_SETTINGS_CHANGED,
                object_type="organization",
                object_id=organization.pk,
                organization=organization,
                data={"honor_gpc_everywhere": honor_everywhere},
            )
    organization.refresh_from_db()
    return organization
