"""Who the deadline sweep writes to, and what it lists: an organization's legal contacts by what they receive,
the fallback when it has none (its DSAR operators and the deployment's ADMINS), and the requests a digest lists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet

from core.models import Organization, StaffOrganizationScope
from core.staff_roles import DSAR_OPERATOR
from dsar.enums import DIGEST_RECEIVERS, ESCALATION_RECEIVERS, OPEN_STATUSES
from dsar.models import DataSubjectRequest, DsarLegalContact


@dataclass(frozen=True)
class DeadlineRecipients:
    """Where one organization's digest and escalation go; ``*_fallback`` says the organization has no legal
    contact for that kind of mail and the addresses are its DSAR operators' and the ADMINS'."""

    digest: list[str] = field(default_factory=list)
    escalation: list[str] = field(default_factory=list)
    digest_fallback: bool = False
    escalation_fallback: bool = False


@dataclass(frozen=True)
class DigestLine:
    """One open request a digest lists (no requester data: the id, type, regime and due date)."""

    pk: int
    organization_id: int
    public_id: str
    request_type: str
    regime: str
    due_on: date


def legal_contact_list(*, organization: Organization) -> QuerySet[DsarLegalContact]:
    return DsarLegalContact.objects.filter(organization=organization).order_by("email")


def legal_contact_by_public_id(*, organization: Organization, public_id: str) -> DsarLegalContact | None:
    return DsarLegalContact.objects.filter(organization=organization, public_id=public_id).first()


def organizations_without_legal_contact(organizations: QuerySet[Organization]) -> list[Organization]:
    """Of ``organizations``, those with no legal contact at all (one query)."""
    has_contact = DsarLegalContact.objects.filter(organization=OuterRef("pk"))
    return list(organizations.filter(~Exists(has_contact)).order_by("name"))


def _operator_emails(organization_ids: list[int]) -> dict[int, set[str]]:
    """The active staff holding the DSAR-operator role, with an email address, by organization they may see (a
    staff user without an organization scope sees them all)."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True, groups__name=DSAR_OPERATOR)
        .exclude(email="")
        .distinct()
        .values_list("pk", "email")
    )
    emails = {pk: str(email) for pk, email in users}
    scoped: dict[int, set[int]] = {}
    for user_id, organization_id in StaffOrganizationScope.objects.filter(user_id__in=list(emails)).values_list(
        "user_id", "organizations"
    ):
        scoped.setdefault(user_id, set())
        if organization_id is not None:
            scoped[user_id].add(organization_id)
    found: dict[int, set[str]] = {organization_id: set() for organization_id in organization_ids}
    for user_id, email in emails.items():
        for organization_id in organization_ids:
            if user_id not in scoped or organization_id in scoped[user_id]:
                found[organization_id].add(email)
    return found


def deadline_recipients(organization_ids: Iterable[int]) -> dict[int, DeadlineRecipients]:
    """Each organization's digest and escalation recipients: its legal contacts that receive that mail; without
    any, the staff with the DSAR-operator role for the organization and ``settings.ADMINS``."""
    ids = sorted(set(organization_ids))
    digest: dict[int, list[str]] = {organization_id: [] for organization_id in ids}
    escalation: dict[int, list[str]] = {organization_id: [] for organization_id in ids}
    for organization_id, email, receives in DsarLegalContact.objects.filter(organization_id__in=ids).values_list(
        "organization_id", "email", "receives"
    ):
        if receives in DIGEST_RECEIVERS:
            digest[organization_id].append(email)
        if receives in ESCALATION_RECEIVERS:
            escalation[organization_id].append(email)
    needs_fallback = [org for org in ids if not digest[org] or not escalation[org]]
    operators = _operator_emails(needs_fallback) if needs_fallback else {}
    admins = {str(admin[1]) for admin in settings.ADMINS}
    result: dict[int, DeadlineRecipients] = {}
    for organization_id in ids:
        fallback = sorted(operators.get(organization_id, set()) | admins)
        result[organization_id] = DeadlineRecipients(
            digest=sorted(digest[organization_id]) or fallback,
            escalation=sorted(escalation[organization_id]) or fallback,
            digest_fallback=not digest[organization_id],
            escalation_fallback=not escalation[organization_id],
        )
    return result


def digest_lines(*, organization_ids: Iterable[int], until: date) -> dict[int, list[DigestLine]]:
    """Every open request of these organizations due on or before ``until`` (overdue ones included), by
    organization, soonest first."""
    rows = (
        DataSubjectRequest.objects.filter(
            organization_id__in=list(organization_ids), status__in=OPEN_STATUSES, due_on__lte=until
        )
        .order_by("due_on", "public_id")
        .values_list("pk", "organization_id", "public_id", "type", "regime", "due_on")
    )
    lines: dict[int, list[DigestLine]] = {}
    for row in rows:
        lines.setdefault(row[1], []).append(DigestLine(*row))
    return lines
