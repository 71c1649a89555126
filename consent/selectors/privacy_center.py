"""What an organization's privacy center shows a visitor about its processing: each purpose with its notice
version in force, lawful basis and what a GPC signal does for it, and the organization's GPC stance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consent.enums import LawfulBasis
from consent.gpc import purpose_signal_categories
from consent.models import PolicyVersion, Purpose
from consent.selectors.catalog import current_policy_versions
from core.models import Organization


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
