"""The privacy center's writes (issue #13): the magic link a person asks for, its single-use confirmation, the
consent a person gives or withdraws on the preference page, and withdrawals through unsubscribe links.

Every choice is a ledger event through the same append path as the API's: source ``privacy_center`` (or
``unsubscribe_link``), collection method ``web_form`` (``email`` for a link in an email), the notice version the
page showed, and the browser's ``Sec-GPC``, which is honored in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from ulid import ULID

from consent.catalog import organization_catalog
from consent.enums import Action, CollectionMethod, GpcChannel, SuppressionKind
from consent.gpc import GpcOutcome, parse_sec_gpc
from consent.models import PreferenceLink, Purpose, Subject
from consent.preference_links import (
    PreferenceLinkExpired,
    PreferenceLinkInvalid,
    link_lifetime,
    preference_link_token,
    public_id_from_token,
)
from consent.selectors.ledger import PurposeConsent, consent_state_for_subject, consent_states_for_subjects
from consent.selectors.privacy_center import preference_link_email, subjects_for_email
from consent.services.appending import RecordedEvent, append_events, atomic_with_retries
from consent.services.builtin_sources import PRIVACY_CENTER_SOURCE_KEY, UNSUBSCRIBE_SOURCE_KEY, builtin_source
from consent.services.chain_locks import lock_subjects
from consent.services.gpc import gpc_signal_apply
from consent.services.validation import ConsentEventInput, SubjectSuppressed, is_suppressed
from consent.subject_ids import (
    email_index,
    preference_link_email_context,
    preference_link_key_owner,
    privacy_center_external_id,
)
from consent.unsubscribe_links import target_from_token
from core.crypto import new_data_key, normalize_email, seal
from core.models import Organization
from core.selectors import privacy_center_base_url, privacy_center_branding

logger = logging.getLogger("consent.services")


# --- the magic link --------------------------------------------------------------------------------------------------


def preference_link_request(
    *, organization: Organization, email: str, language: str, now: datetime | None = None
) -> PreferenceLink:
    """Keep a single-use link for ``email`` and send it there after commit. The same for a known and an unknown
    email (the person may be new: their first choice makes them a subject), so nothing tells them apart."""
    moment = now or timezone.now()
    normalized = normalize_email(email)
    public_id = str(ULID())
    data_key, wrapped = new_data_key(owner=preference_link_key_owner(public_id))
    with transaction.atomic():
        PreferenceLink.objects.filter(expires_at__lt=moment).delete()  # expired links are of no use to anyone
        link = PreferenceLink.objects.create(
            public_id=public_id,
            organization=organization,
            email_index=email_index(organization.pk, normalized),
            email_sealed=seal(data_key, normalized, context=preference_link_email_context(public_id)),
            wrapped_data_key=wrapped,
            language=language,
            created_at=moment,
            expires_at=moment + link_lifetime(),
        )
        transaction.on_commit(lambda: _send_preference_link(organization, link, normalized), robust=True)
    return link


def preference_link_url(organization: Organization, public_id: str) -> str:
    path = reverse(
        "privacy_center:preferences_open", kwargs={"slug": organization.slug, "token": preference_link_token(public_id)}
    )
    return privacy_center_base_url(organization) + path


def _send_preference_link(organization: Organization, link: PreferenceLink, email: str) -> None:
    title = privacy_center_branding(organization).title
    with translation.override(link.language):
        body = render_to_string(
            "consent/privacy_center/preference_link_email.txt",
            {
                "organization_name": title,
                "url": preference_link_url(organization, link.public_id),
                "minutes": int(link_lifetime().total_seconds() // 60),
            },
        )
        subject = gettext("Your link to manage your privacy choices with %(name)s") % {"name": title}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])


def preference_link_confirm(*, organization: Organization, token: str, now: datetime | None = None) -> PreferenceLink:
    """Use the link once (compare-and-set): PreferenceLinkInvalid (400) for a token that is not ours,
    PreferenceLinkExpired (410) when it expired or was used already."""
    moment = now or timezone.now()
    public_id = public_id_from_token(token)
    used = PreferenceLink.objects.filter(
        organization=organization, public_id=public_id, confirmed_at__isnull=True, expires_at__gt=moment
    ).update(confirmed_at=moment)
    link = PreferenceLink.objects.filter(organization=organization, public_id=public_id).first()
    if link is None:
        raise PreferenceLinkInvalid("This link is not valid; ask for a new one.")
    if not used:
        raise PreferenceLinkExpired("This link has expired or was used already; ask for a new one.")
    return link


def preference_links_purge(*, now: datetime | None = None) -> int:
    """Delete the links past their expiry (the sealed email goes with them)."""
    deleted, _ = PreferenceLink.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


# --- the person's choices --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceChange:
    """One click on the preference page: give (``give``) or withdraw consent for ``purpose``, under the notice
    version the page showed, from a person in ``jurisdiction`` whose browser sent ``gpc_header``."""

    purpose: str
    give: bool
    policy_version: str | None
    jurisdiction: str
    gpc_header: str | None = None


def _person_subject_ids(organization: Organization, email: str) -> list[Subject | str]:
    """The person's subjects, or the id of the one their first choice makes. A person erased on request is not
    made again (the privacy center writes as the system, so it checks the suppression list itself)."""
    subjects: list[Subject | str] = list(subjects_for_email(organization=organization, email=email))
    if subjects:
        return subjects
    catalog = organization_catalog(organization)
    if catalog.suppressed and is_suppressed(catalog, SuppressionKind.EMAIL, email, organization_id=organization.pk):
        raise SubjectSuppressed("The person was erased at their request and may not be imported again.")
    return [privacy_center_external_id(organization.pk, email)]


def preference_change(
    *, organization: Organization, link: PreferenceLink, change: PreferenceChange
) -> list[RecordedEvent]:
    """Record the person's choice for each of their subjects (a new subject for a new person), in one transaction
    with their GPC signal. A subject already in the chosen state gets no event (a double click adds nothing)."""
    email = preference_link_email(link)
    builtin_source(organization=organization, key=PRIVACY_CENTER_SOURCE_KEY)
    moment = timezone.now()
    has_signal = change.gpc_header is not None and parse_sec_gpc(change.gpc_header)

    def write() -> list[RecordedEvent]:
        people = _person_subject_ids(organization, email)
        ids = [person.external_id if isinstance(person, Subject) else person for person in people]
        lock_subjects(organization, set(ids))
        consents = _consents_for(organization, [person for person in people if isinstance(person, Subject)], change)
        items = []
        for subject_id in ids:
            consent = consents.get(subject_id)
            is_permitted = consent is not None and consent.permitted
            is_opted_in = consent is not None and consent.opt_in
            if change.give and is_permitted and is_opted_in:
                continue  # already given: a double click adds nothing
            if not change.give and consent is not None and not is_permitted:
                continue  # already not allowed: nothing to withdraw
            action = Action.GRANT if change.give else (Action.WITHDRAW if is_opted_in else Action.REFUSE)
            items.append(
                ConsentEventInput(
                    subject_id=subject_id,
                    purpose=change.purpose,
                    action=action,
                    occurred_at=moment,
                    source=PRIVACY_CENTER_SOURCE_KEY,
                    collection_method=CollectionMethod.WEB_FORM,
                    jurisdiction=change.jurisdiction,
                    policy_version=change.policy_version,
                    gpc=has_signal,
                    explicit_confirmation=change.give,
                    subject_email=email,
                )
            )
        recorded = append_events(organization=organization, items=items, allow_system_actions=True, now=moment)
        if has_signal and change.gpc_header is not None:
            for subject_id in ids:
                gpc_signal_apply(
                    organization=organization,
                    subject_id=subject_id,
                    channel=GpcChannel.HEADER,
                    raw_value=change.gpc_header,
                    jurisdiction=change.jurisdiction,
                )
        return recorded

    return atomic_with_retries(write)


def _consents_for(
    organization: Organization, subjects: list[Subject], change: PreferenceChange
) -> dict[str, PurposeConsent]:
    """Each subject's current consent for the purpose (with its effective permission), read under the locks."""
    if not subjects:
        return {}
    states = consent_states_for_subjects(
        organization=organization, subjects=subjects, jurisdiction_hint=change.jurisdiction
    )
    found: dict[str, PurposeConsent] = {}
    for subject in subjects:
        for consent in states.get(subject.pk, []):
            if consent.purpose == change.purpose:
                found[subject.external_id] = consent
    return found


def privacy_center_gpc_record(
    *, organization: Organization, link: PreferenceLink, jurisdiction: str, gpc_header: str
) -> list[GpcOutcome]:
    """Honor the ``Sec-GPC`` the person's browser sent with the POST that opened their preference page, for each
    of their subjects (a new person becomes a subject to carry it)."""
    email = preference_link_email(link)

    def write() -> list[GpcOutcome]:
        outcomes: list[GpcOutcome] = []
        try:
            people = _person_subject_ids(organization, email)
        except SubjectSuppressed:
            return outcomes  # nothing is kept about an erased person, not even their signal
        for person in people:
            subject_id = person.external_id if isinstance(person, Subject) else person
            outcome = gpc_signal_apply(
                organization=organization,
                subject_id=subject_id,
                channel=GpcChannel.HEADER,
                raw_value=gpc_header,
                jurisdiction=jurisdiction,
            )
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    return atomic_with_retries(write)


# --- unsubscribe links -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnsubscribeOutcome:
    """What an unsubscribe did: the purpose, and the event it wrote (None when nothing was left to withdraw)."""

    purpose: Purpose
    event: RecordedEvent | None


def consent_unsubscribe(*, organization: Organization, token: str, now: datetime | None = None) -> UnsubscribeOutcome:
    """Withdraw the consent the link names, as a ledger event (source ``unsubscribe_link``, method ``email``).
    Idempotent: a purpose already withdrawn or refused gets no new event, so a replayed link changes nothing.
    PreferenceLinkInvalid (400) for a token not made for this organization."""
    target = target_from_token(token)
    purpose = Purpose.objects.filter(organization=organization, key=target.purpose_key).first()
    if target.organization_id != organization.pk or purpose is None:
        raise PreferenceLinkInvalid("This unsubscribe link is not valid.")
    subject = Subject.objects.filter(organization=organization, uuid=target.subject_uuid).first()
    if subject is None or subject.is_erased:
        return UnsubscribeOutcome(purpose, None)  # nothing is kept about this person any more
    builtin_source(organization=organization, key=UNSUBSCRIBE_SOURCE_KEY)
    moment = now or timezone.now()

    def write() -> RecordedEvent | None:
        locked = lock_subjects(organization, {subject.external_id})[subject.external_id]
        consents = consent_state_for_subject(organization=organization, subject=locked, purpose_key=purpose.key)
        consent = consents[0] if consents else None
        if consent is None or not consent.permitted:
            return None  # already withdrawn, refused or never given: a replayed link changes nothing
        jurisdiction = locked.jurisdiction or consent.jurisdiction or ""
        if not jurisdiction:
            return None
        action = Action.WITHDRAW if consent.opt_in else Action.REFUSE
        item = ConsentEventInput(
            subject_id=locked.external_id,
            purpose=purpose.key,
            action=action,
            occurred_at=moment,
            source=UNSUBSCRIBE_SOURCE_KEY,
            collection_method=CollectionMethod.EMAIL,
            jurisdiction=jurisdiction,
        )
        return append_events(organization=organization, items=[item], allow_system_actions=True, now=moment)[0]

    return UnsubscribeOutcome(purpose, atomic_with_retries(write))
