"""What an organization's privacy center shows a visitor about its processing: each purpose with its notice
version in force, lawful basis and what a GPC signal does for it, and the organization's GPC stance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.urls import reverse

from consent.enums import OPT_OUT_STATUSES, ConsentStatus, LawfulBasis
from consent.gpc import purpose_signal_categories
from consent.models import PolicyVersion, PreferenceLink, Purpose, Subject
from consent.selectors.catalog import current_policy_versions
from consent.selectors.gpc import PrivacyStatus, privacy_status
from consent.selectors.ledger import PurposeConsent, consent_states_for_subjects
from consent.subject_ids import (
    PRIVACY_CENTER_ID_PREFIX,
    email_index_candidates,
    preference_link_email_context,
    preference_link_key_owner,
)
from consent.unsubscribe_links import UnsubscribeHeaders, UnsubscribeTarget, unsubscribe_headers, unsubscribe_token
from core.crypto import normalize_email, unseal, unwrap_data_key
from core.models import Organization
from core.selectors import privacy_center_base_url


@dataclass(frozen=True)
class PurposeNotice:
    """One purpose as the privacy center presents it."""

    purpose: Purpose
    legal_basis: str
    legal_basis_label: str
    policy_version: PolicyVersion | None
    is_consent_based: bool
    is_covered_by_gpc: bool

    @property
    def key(self) -> str:
        return self.purpose.key


@dataclass(frozen=True)
class PrivacyCenterOverview:
    organization: Organization
    purposes: list[PurposeNotice]
    honors_gpc_everywhere: bool


def purpose_notices(*, organization: Organization, at: datetime) -> list[PurposeNotice]:
    """The organization's purposes in key order, each with the notice version in force at ``at``."""
    purposes = list(Purpose.objects.filter(organization=organization).order_by("key"))
    versions = current_policy_versions(purposes=purposes, at=at)
    labels = dict(LawfulBasis.choices)
    return [
        PurposeNotice(
            purpose=purpose,
            legal_basis=purpose.legal_basis,
            legal_basis_label=str(labels.get(purpose.legal_basis, purpose.legal_basis)),
            policy_version=versions.get(purpose.pk),
            is_consent_based=purpose.legal_basis == LawfulBasis.CONSENT,
            is_covered_by_gpc=bool(
                purpose_signal_categories(
                    is_sale_or_sharing=purpose.is_sale_or_sharing,
                    is_targeted_advertising=purpose.is_targeted_advertising,
                )
            ),
        )
        for purpose in purposes
    ]


def privacy_center_overview(*, organization: Organization, at: datetime) -> PrivacyCenterOverview:
    return PrivacyCenterOverview(
        organization=organization,
        purposes=purpose_notices(organization=organization, at=at),
        honors_gpc_everywhere=organization.honor_gpc_everywhere,
    )


# --- the person behind an email ------------------------------------------------------------------------------------


def preference_link_by_public_id(*, organization: Organization, public_id: str) -> PreferenceLink | None:
    return PreferenceLink.objects.filter(organization=organization, public_id=public_id).first()


def preference_link_email(link: PreferenceLink) -> str:
    """The (normalized) email the link was sent to, unsealed."""
    data_key = unwrap_data_key(bytes(link.wrapped_data_key), owner=preference_link_key_owner(link.public_id))
    return unseal(data_key, link.email_sealed, context=preference_link_email_context(link.public_id))


def subjects_for_email(*, organization: Organization, email: str) -> list[Subject]:
    """The person's subjects: those whose sealed email is ``email`` (under any blind-index key) and the subject the
    privacy center made for it; erased subjects are left out (their data is gone)."""
    candidates = email_index_candidates(organization.pk, normalize_email(email))
    own_ids = [PRIVACY_CENTER_ID_PREFIX + index for index in candidates]
    return list(
        Subject.objects.filter(organization=organization, data_key_destroyed_at__isnull=True)
        .filter(Q(email_index__in=candidates) | Q(external_id__in=own_ids))
        .order_by("external_id")
    )


@dataclass(frozen=True)
class PurposePreference:
    """One purpose's state for the person, across their subjects: allowed (``is_given``) only when processing is
    allowed for every one of them; otherwise the most protective status found (a withdrawal anywhere shows)."""

    notice: PurposeNotice
    status: str
    is_given: bool
    is_opted_out_by_gpc: bool

    @property
    def key(self) -> str:
        return self.notice.key

    @property
    def is_changeable(self) -> bool:
        return self.notice.is_consent_based or self.notice.is_covered_by_gpc


@dataclass(frozen=True)
class PersonPreferences:
    purposes: list[PurposePreference]
    gpc: PrivacyStatus | None
    jurisdiction: str | None


# The status shown when a purpose is not given for every subject: the most protective one found.
_NOT_GIVEN_PRIORITY = (
    ConsentStatus.WITHDRAWN,
    ConsentStatus.REFUSED,
    ConsentStatus.EXPIRED,
    ConsentStatus.INVALIDATED,
    ConsentStatus.STALE,
)


def _combined(consents: list[PurposeConsent]) -> tuple[str, bool, bool]:
    """(status shown, whether processing is allowed for every subject, whether GPC opted the person out)."""
    if not consents:
        return ConsentStatus.UNKNOWN, False, False
    by_gpc = any(consent.gpc and consent.status in OPT_OUT_STATUSES for consent in consents)
    if all(consent.permitted for consent in consents):
        # Allowed everywhere: by consent, or (opt-out regimes) because the person has not objected.
        status = ConsentStatus.GIVEN if all(consent.opt_in for consent in consents) else ConsentStatus.UNKNOWN
        return status, True, by_gpc
    refused = {consent.status for consent in consents if not consent.permitted}
    status = next((status for status in _NOT_GIVEN_PRIORITY if status in refused), ConsentStatus.UNKNOWN)
    return status, False, by_gpc


def person_preferences(*, organization: Organization, subjects: list[Subject], at: datetime) -> PersonPreferences:
    """Every purpose's state for the person (all of ``subjects``), with what their GPC signal did."""
    notices = purpose_notices(organization=organization, at=at)
    states = consent_states_for_subjects(organization=organization, subjects=subjects) if subjects else {}
    by_purpose: dict[str, list[PurposeConsent]] = {}
    for consents in states.values():
        for consent in consents:
            by_purpose.setdefault(consent.purpose, []).append(consent)
    purposes = []
    for notice in notices:
        status, is_given, by_gpc = _combined(by_purpose.get(notice.key, []))
        purposes.append(PurposePreference(notice, status, is_given, by_gpc))
    statuses = [privacy_status(organization=organization, subject=subject) for subject in subjects]
    honored = next((status for status in statuses if status.honored), None)
    received = next((status for status in statuses if status.signal_received), None)
    jurisdiction = next((subject.jurisdiction for subject in subjects if subject.jurisdiction), None)
    return PersonPreferences(purposes=purposes, gpc=honored or received, jurisdiction=jurisdiction)


def unsubscribe_link(*, organization: Organization, subject: Subject, purpose: Purpose) -> UnsubscribeHeaders:
    """The signed unsubscribe link of ``subject`` for ``purpose`` and its two email headers. Read only: nothing
    is stored; the link is checked by its signature when used."""
    token = unsubscribe_token(UnsubscribeTarget(organization.pk, str(subject.uuid), purpose.key))
    path = reverse("privacy_center:unsubscribe", kwargs={"slug": organization.slug, "token": token})
    return unsubscribe_headers(privacy_center_base_url(organization) + path)
