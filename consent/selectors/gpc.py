"""Reads about Global Privacy Control: what a person's front end must display, whether an opt-in may
be solicited, the IAB strings that carry the state downstream, and what the legal team's admin pages show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Min, QuerySet
from django.utils import timezone

from consent import iab
from consent.catalog import organization_catalog
from consent.enums import OPT_IN_STATUSES, OPT_OUT_STATUSES, Action, CollectionMethod
from consent.gpc import (
    DISPLAY_HONORED,
    DISPLAY_RECEIVED,
    covered_purpose_keys,
    gpc_decision,
    purpose_signal_categories,
)
from consent.models import ConsentEvent, ConsentState, GpcSignalReceipt, Subject, SubjectLink
from consent.selectors.ledger import PurposeConsent
from core.jurisdiction_rules import jurisdiction_rules
from core.models import Organization
from core.timeutil import add_months

OPTED_OUT_BASES = frozenset({"opted_out", "withdrawn", "gpc_opt_out"})


def subject_cluster_ids(*, organization: Organization, subject: Subject) -> list[int]:
    """Ids of the subject and every subject linked to it."""
    seen = {subject.pk}
    frontier = {subject.pk}
    while frontier and len(seen) < 500:
        rows = (
            SubjectLink.objects.filter(organization=organization, subject_id__in=frontier)
            .values_list("subject_id", "linked_subject_id")
            .union(
                SubjectLink.objects.filter(organization=organization, linked_subject_id__in=frontier).values_list(
                    "subject_id", "linked_subject_id"
                )
            )
        )
        found = {pk for pair in rows for pk in pair}
        frontier = found - seen
        seen |= found
    return sorted(seen)


def linked_subject_ids(*, organization: Organization, subject: Subject) -> list[str]:
    ids = subject_cluster_ids(organization=organization, subject=subject)
    return list(Subject.objects.filter(pk__in=ids).order_by("external_id").values_list("external_id", flat=True))


def first_gpc_opt_outs(cluster: list[Subject], purpose_ids: list[int]) -> dict[tuple[int, int], datetime]:
    """When a GPC signal first opted each (subject, purpose) of ``cluster`` out."""
    rows = (
        ConsentEvent.objects.filter(
            subject__in=cluster, purpose_id__in=purpose_ids, collection_method=CollectionMethod.GPC_SIGNAL
        )
        .values("subject_id", "purpose_id")
        .annotate(first=Min("occurred_at"))
    )
    return {(row["subject_id"], row["purpose_id"]): row["first"] for row in rows}


def is_settled_for_gpc(state: ConsentState, first_signal_at: datetime | None) -> bool:
    """Opted out by GPC already, or opted in by the person's confirmation given after a signal
    (a confirmed grant made before any signal does not shield the purpose from a later one)."""
    basis = state.basis_event
    by_gpc = basis.collection_method == CollectionMethod.GPC_SIGNAL and state.status in OPT_OUT_STATUSES
    confirmed = (
        basis.lifts_gpc_opt_out
        and state.status in OPT_IN_STATUSES
        and first_signal_at is not None
        and first_signal_at <= basis.occurred_at
    )
    return by_gpc or bool(confirmed)


@dataclass(frozen=True)
class GpcSignalPreview:
    """What a ``Sec-GPC: 1`` seen on a read would do if it were recorded. A read never records it: that
    needs a ``consent:write`` key (``POST /signals``, or the header on a write)."""

    jurisdiction: str | None
    would_be_honored: bool
    is_legally_required: bool
    would_opt_out: list[str]
    subjects: list[str]


def gpc_signal_preview(*, organization: Organization, subject: Subject, on: date | None = None) -> GpcSignalPreview:
    """The purposes a GPC signal for ``subject`` would opt out of now (for it or a linked subject), read
    only: the same decision and the same "not again while already opted out" rule the writer applies."""
    ids = subject_cluster_ids(organization=organization, subject=subject)
    cluster = list(Subject.objects.filter(organization=organization, pk__in=ids).order_by("external_id"))
    jurisdiction = (
        subject.jurisdiction
        or next((member.jurisdiction for member in cluster if member.jurisdiction), None)
        or GpcSignalReceipt.objects.filter(subject=subject).values_list("jurisdiction", flat=True).first()
        or None
    )
    subjects = [member.external_id for member in cluster]
    if not jurisdiction:
        return GpcSignalPreview(None, False, False, [], subjects)
    decision = gpc_decision(
        jurisdiction=jurisdiction, honor_everywhere=organization.honor_gpc_everywhere, on=on or timezone.now().date()
    )
    catalog = organization_catalog(organization)
    keys = covered_purpose_keys(
        decision, ((p.key, p.is_sale_or_sharing, p.is_targeted_advertising) for p in catalog.purposes.values())
    )
    purposes = {catalog.purposes[key].pk: key for key in keys}
    states = {
        (row.subject_id, row.purpose_id): row
        for row in ConsentState.objects.filter(subject__in=cluster, purpose_id__in=purposes).select_related(
            "basis_event"
        )
    }
    first_signal = first_gpc_opt_outs(cluster, list(purposes))
    would_opt_out = sorted(
        {
            key
            for member in cluster
            for purpose_id, key in purposes.items()
            if (state := states.get((member.pk, purpose_id))) is None
            or not is_settled_for_gpc(state, first_signal.get((member.pk, purpose_id)))
        }
    )
    return GpcSignalPreview(jurisdiction, decision.is_honored, decision.is_legally_required, would_opt_out, subjects)


@dataclass(frozen=True)
class PrivacyStatus:
    """Whether a GPC signal was received and honored for the person (CCPA regs §7025(c)(6))."""

    signal_received: bool
    received_at: datetime | None
    last_received_at: datetime | None
    honored: bool
    honored_at: datetime | None
    legally_required: bool
    purposes_opted_out: list[str]
    display_text: str | None

    @property
    def opt_out_preference_signal(self) -> str:
        if self.honored:
            return "honored"
        return "received" if self.signal_received else "not_received"


def privacy_status(*, organization: Organization, subject: Subject) -> PrivacyStatus:
    """The subject's own receipt, or the earliest of any subject linked to it (the signal is the person's)."""
    cluster = subject_cluster_ids(organization=organization, subject=subject)
    receipts = list(GpcSignalReceipt.objects.filter(subject_id__in=cluster).order_by("first_received_at"))
    if not receipts:
        return PrivacyStatus(False, None, None, False, None, False, [], None)
    honored = [r for r in receipts if r.is_honored]
    purposes = sorted({p for r in honored for p in r.purposes_opted_out})
    honored_at = min((r.honored_at for r in honored if r.honored_at), default=None)
    return PrivacyStatus(
        signal_received=True,
        received_at=receipts[0].first_received_at,
        last_received_at=max(r.last_received_at for r in receipts),
        honored=bool(honored),
        honored_at=honored_at,
        legally_required=any(r.is_legally_required for r in receipts),
        purposes_opted_out=purposes,
        display_text=DISPLAY_HONORED if honored else DISPLAY_RECEIVED,
    )


@dataclass(frozen=True)
class Solicitation:
    may_solicit: bool
    earliest: date | None
    reason: str
    rule: str | None


def solicitation(
    *, organization: Organization, subject: Subject, purpose_key: str, state: PurposeConsent
) -> Solicitation:
    """Whether the person may be asked to opt in to ``purpose_key`` now (Cal. Civ. Code §1798.135:
    not for 12 months after an opt-out of sale/sharing; A15: allowed from the same date a year on)."""
    today = timezone.localdate()
    if state.permitted and state.basis == "explicit_opt_in":
        return Solicitation(False, None, "already_opted_in", None)
    catalog = organization_catalog(organization)
    purpose = catalog.purposes[purpose_key]
    rule = jurisdiction_rules().rule_for(subject.jurisdiction or state.jurisdiction)
    covered = purpose_signal_categories(
        is_sale_or_sharing=purpose.is_sale_or_sharing, is_targeted_advertising=purpose.is_targeted_advertising
    )
    if rule.resolicit_wait_months is None or not covered or state.basis not in OPTED_OUT_BASES:
        return Solicitation(True, today, "allowed", None)
    last_opt_out = (
        ConsentEvent.objects.filter(subject=subject, purpose=purpose, action__in=[Action.WITHDRAW, Action.REFUSE])
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if last_opt_out is None:
        return Solicitation(True, today, "allowed", None)
    earliest = add_months(timezone.localtime(last_opt_out).date(), rule.resolicit_wait_months)
    citation = f"{rule.law}: {rule.resolicit_wait_months} months after an opt-out of sale/sharing"
    if today >= earliest:
        return Solicitation(True, earliest, "allowed", citation)
    return Solicitation(False, earliest, "within_resolicitation_window", citation)


@dataclass(frozen=True)
class IabSignals:
    us_privacy: str
    gpp: str | None
    gpp_sid: list[int]


def iab_signals(
    *, organization: Organization, jurisdiction: str | None, states: list[PurposeConsent], gpc_received: bool
) -> IabSignals | None:
    """The IAB strings of a US subject: the US Privacy string (``1---`` outside California) and GPP with
    its GPC sub-section: the ``usca`` section for California, the national ``usnat`` section for the other
    states with a privacy law in the rule table, none for the rest of the US. None outside the US."""
    if not jurisdiction or not jurisdiction.startswith("US"):
        return None
    not_applicable = iab.us_privacy_string(applies=False, notice_given=False, opted_out=False, lspa_covered=None)
    is_california = jurisdiction == "US-CA"
    if not is_california and not _has_state_privacy_law(jurisdiction):
        return IabSignals(us_privacy=not_applicable, gpp=None, gpp_sid=[])
    purposes = organization_catalog(organization).purposes
    opted_out: set[str] = set()
    for state in states:
        purpose = purposes.get(state.purpose)
        if purpose is not None and state.basis in OPTED_OUT_BASES:
            opted_out |= purpose_signal_categories(
                is_sale_or_sharing=purpose.is_sale_or_sharing, is_targeted_advertising=purpose.is_targeted_advertising
            )
    if not is_california:
        gpp = _usnat_gpp(opted_out=opted_out, gpc_received=gpc_received)
        return IabSignals(us_privacy=not_applicable, gpp=gpp, gpp_sid=iab.gpp_sid(gpp))
    sale_opt_out, sharing_opt_out = "sale" in opted_out, "sharing" in opted_out
    # usca: 1 = opted out, 2 = did not opt out; notices 1 = given; sensitive-data fields 0 = not applicable.
    gpp = iab.gpp_string_usca(
        sale_opt_out_notice=1,
        sharing_opt_out_notice=1,
        sensitive_data_limit_use_notice=0,
        sale_opt_out=1 if sale_opt_out else 2,
        sharing_opt_out=1 if sharing_opt_out else 2,
        sensitive_data_processing=[0] * iab.USCA_SENSITIVE_DATA_CATEGORIES,
        known_child_sensitive_data_consents=[0] * iab.USCA_KNOWN_CHILD_CATEGORIES,
        personal_data_consents=0,
        mspa_covered_transaction=2,
        mspa_opt_out_option_mode=0,
        mspa_service_provider_mode=0,
        gpc=gpc_received,
    )
    return IabSignals(
        us_privacy=iab.us_privacy_string(applies=True, notice_given=True, opted_out=sale_opt_out, lspa_covered=False),
        gpp=gpp,
        gpp_sid=iab.gpp_sid(gpp),
    )


def _has_state_privacy_law(jurisdiction: str) -> bool:
    """Whether the rule table has a rule of the jurisdiction's own for a US state with an opt-out regime; the
    federal "US" rule that other states fall back to has no state law behind it."""
    rule = jurisdiction_rules().rule_for(jurisdiction)
    return rule.code.startswith("US-") and rule.regime == "opt_out"


def _usnat_gpp(*, opted_out: set[str], gpc_received: bool) -> str:
    """GPP with the usnat section (the MSPA national approach) for a state law's sale, sharing and targeted
    advertising opt-outs."""
    # usnat: notices 1 = given; opt-outs 1 = opted out, 2 = did not; sensitive-data and child fields
    # 0 = not applicable; not an MSPA covered transaction, as for usca.
    return iab.gpp_string_usnat(
        sharing_notice=1,
        sale_opt_out_notice=1,
        sharing_opt_out_notice=1,
        targeted_advertising_opt_out_notice=1,
        sensitive_data_processing_opt_out_notice=0,
        sensitive_data_limit_use_notice=0,
        sale_opt_out=1 if "sale" in opted_out else 2,
        sharing_opt_out=1 if "sharing" in opted_out else 2,
        targeted_advertising_opt_out=1 if "targeted_advertising" in opted_out else 2,
        sensitive_data_processing=[0] * iab.USNAT_SENSITIVE_DATA_CATEGORIES,
        known_child_sensitive_data_consents=[0] * iab.USNAT_KNOWN_CHILD_CATEGORIES,
        personal_data_consents=0,
        mspa_covered_transaction=2,
        mspa_opt_out_option_mode=0,
        mspa_service_provider_mode=0,
        gpc=gpc_received,
    )


def gpc_last_update(*, host: str) -> date:
    """``lastUpdate`` of /.well-known/gpc.json: the organization serving ``host``, else the deployment
    (PROVENANT_GPC_LAST_UPDATE, else the rule table's date)."""
    changed = (
        Organization.objects.filter(site_domain=host).values_list("gpc_settings_updated_at", flat=True).first()
        if host
        else None
    )
    if changed is not None:
        return changed
    configured = settings.PROVENANT_GPC_LAST_UPDATE
    if configured:
        return date.fromisoformat(str(configured)[:10])
    return jurisdiction_rules().gpc_last_update


# --------------------------------------------------------------------------------------------
# The legal team's admin pages
# --------------------------------------------------------------------------------------------

GPC_EVENTS_SHOWN = 50

GPC_HONORED = "yes"
GPC_NOT_HONORED = "no"
GPC_NOT_RECEIVED = "not_received"


@dataclass(frozen=True)
class SubjectGpc:
    """What the subject page shows about GPC: the subject's own receipt, the person's status across
    linked subjects, the opt-outs the signal wrote to this subject's ledger, and the linked subjects."""

    receipt: GpcSignalReceipt | None
    person: PrivacyStatus
    events: list[ConsentEvent]
    has_more_events: bool
    linked_subjects: list[Subject]
    honors_everywhere: bool


def subject_gpc(*, organization: Organization, subject: Subject) -> SubjectGpc:
    receipt = GpcSignalReceipt.objects.filter(organization=organization, subject=subject).first()
    events = list(
        ConsentEvent.objects.filter(
            organization=organization, subject=subject, collection_method=CollectionMethod.GPC_SIGNAL
        )
        .select_related("purpose")
        .order_by("chain_index")[: GPC_EVENTS_SHOWN + 1]
    )
    cluster = subject_cluster_ids(organization=organization, subject=subject)
    linked = list(
        Subject.objects.filter(organization=organization, pk__in=cluster)
        .exclude(pk=subject.pk)
        .select_related("gpc_receipt")
        .order_by("external_id")
    )
    return SubjectGpc(
        receipt=receipt,
        person=privacy_status(organization=organization, subject=subject),
        events=events[:GPC_EVENTS_SHOWN],
        has_more_events=len(events) > GPC_EVENTS_SHOWN,
        linked_subjects=linked,
        honors_everywhere=organization.honor_gpc_everywhere,
    )


def subjects_by_gpc_status(queryset: QuerySet[Subject], status: str | None) -> QuerySet[Subject]:
    """Narrow subjects to those whose GPC signal was honored, received but not honored, or never received."""
    if status == GPC_HONORED:
        return queryset.filter(gpc_receipt__is_honored=True)
    if status == GPC_NOT_HONORED:
        return queryset.filter(gpc_receipt__is_honored=False)
    if status == GPC_NOT_RECEIVED:
        return queryset.filter(gpc_receipt__isnull=True)
    return queryset
