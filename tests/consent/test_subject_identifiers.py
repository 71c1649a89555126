"""Subject ids are what they look like, indexes are keyed per organization, erasure leaves no external id, and
an erased person can't come back (issue #11, items 11, 4, 6 and 10, the consent side). Each test performs the
attack and shows it refused with nothing written."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.test import override_settings

from consent import services
from consent.enums import SourceKind
from consent.models import GpcSignalReceipt, Purpose, Source, Subject, SuppressedIdentifier
from consent.selectors import subject_by_external_id, subject_email
from consent.subject_keys import subject_key_owner
from core.crypto import blind_index, master_keyring, normalize_email, unwrap_data_key
from core.models import Organization
from core.services import organization_create
from tests.conftest import event_body, event_input
from tests.consent.api_contract import assert_problem, pointers, row_counts

pytestmark = pytest.mark.django_db

INVISIBLE = [
    pytest.param("cust\u200b-1", id="zero-width-space"),
    pytest.param("cust-1\u200d", id="zero-width-joiner"),
    pytest.param("\u202ecust-1", id="bidi-override"),
    pytest.param("cust\u2066-1", id="bidi-isolate"),
    pytest.param("cust\x07-1", id="control"),
    pytest.param("\ufeffcust-1", id="byte-order-mark"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dot-dot"),
]
CYRILLIC_A = "\u0430"


def everything() -> dict[str, int]:
    return row_counts() | {
        "suppressed": SuppressedIdentifier.objects.count(),
        "gpc_receipts": GpcSignalReceipt.objects.count(),
    }


def second_organization() -> Organization:
    other = organization_create(slug="initech", name="Initech", actor="test")
    services.source_create(organization=other, actor="test", key="web-signup", name="Form", kind=SourceKind.WEB_FORM)
    services.purpose_create(organization=other, actor="test", key="marketing-email", name="Marketing")
    return other


# --------------------------------------------------------------------------------------------
# Item 11: every place a subject id enters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject_id", INVISIBLE)
def test_invisible_or_dot_subject_ids_are_refused_everywhere_a_body_names_one(
    client_rw: Any, source: Source, purpose: Purpose, subject_id: str
) -> None:
    before = everything()

    one = client_rw.post("/api/v1/consent-events", event_body(subject_id=subject_id), format="json")
    bulk = client_rw.post(
        "/api/v1/consent-events/bulk",
        {"events": [event_body(subject_id="fine-1"), event_body(subject_id=subject_id)]},
        format="json",
    )
    signal = client_rw.post(
        "/api/v1/signals", {"subject_id": subject_id, "gpc": True, "jurisdiction": "US-CA"}, format="json"
    )
    link = client_rw.post("/api/v1/subjects/fine-1/links", {"subject_id": subject_id}, format="json")

    assert pointers(assert_problem(one, 422, "validation-error")) == {"/subject_id"}
    assert pointers(assert_problem(bulk, 422, "validation-error")) == {"/events/1/subject_id"}
    assert pointers(assert_problem(signal, 422, "validation-error")) == {"/subject_id"}
    assert pointers(assert_problem(link, 422, "validation-error")) == {"/subject_id"}
    assert "subject id" in one.json()["errors"][0]["detail"].lower()
    assert everything() == before


@pytest.mark.parametrize("subject_id", INVISIBLE)
def test_path_ids_that_are_not_normal_are_404_and_write_nothing(
    client_rw: Any, source: Source, purpose: Purpose, subject_id: str
) -> None:
    assert client_rw.post("/api/v1/consent-events", event_body(subject_id="cust-1"), format="json").status_code == 201
    before = everything()
    path = quote(subject_id, safe="")

    for url in (
        f"/api/v1/subjects/{path}/consent",
        f"/api/v1/subjects/{path}/consent-events",
        f"/api/v1/subjects/{path}/links",
        f"/api/v1/subjects/{path}/privacy-status",
        f"/api/v1/subjects/{path}/solicitation?purpose=marketing-email",
    ):
        response = client_rw.get(url)
        assert response.status_code == 404, (url, response.status_code)
    link = client_rw.post(f"/api/v1/subjects/{path}/links", {"subject_id": "cust-1"}, format="json")

    assert link.status_code == 404
    assert everything() == before


def test_a_decomposed_subject_id_is_stored_nfc_and_its_decomposed_path_is_404(
    client_rw: Any, source: Source, purpose: Purpose
) -> None:
    composed = "jos\u00e9-1"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed

    response = client_rw.post("/api/v1/consent-events", event_body(subject_id=decomposed), format="json")

    assert response.status_code == 201, response.content
    assert list(Subject.objects.values_list("external_id", flat=True)) == [composed]
    assert client_rw.get(f"/api/v1/subjects/{quote(composed)}/consent").status_code == 200
    assert client_rw.get(f"/api/v1/subjects/{quote(decomposed)}/consent").status_code == 404


# --------------------------------------------------------------------------------------------
# Item 11: invisible-character and homoglyph variants of a suppressed identifier
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param("paypal-7", id="same"),
        pytest.param(f"p{CYRILLIC_A}ypal-7", id="cyrillic-a"),
        pytest.param("PAYPAL-7", id="case"),
        pytest.param("\uff50aypal-7", id="fullwidth"),
    ],
)
def test_a_variant_of_a_suppressed_subject_id_is_refused(
    client_rw: Any, organization: Organization, source: Source, purpose: Purpose, variant: str
) -> None:
    services.subject_suppress(organization=organization, identifiers={"external_id": ["paypal-7"]}, actor="test")
    before = everything()

    response = client_rw.post("/api/v1/consent-events", event_body(subject_id=variant), format="json")

    assert pointers(assert_problem(response, 409, "subject-suppressed")) == {"/subject_id"}
    assert everything() == before


def test_a_homoglyph_variant_of_a_suppressed_email_is_refused(
    client_rw: Any, organization: Organization, source: Source, purpose: Purpose
) -> None:
    services.subject_suppress(organization=organization, identifiers={"email": ["ada@example.com"]}, actor="test")
    before = everything()

    response = client_rw.post(
        "/api/v1/consent-events",
        event_body(subject_id="fresh-9", subject_email=f"ada@ex{CYRILLIC_A}mple.com"),
        format="json",
    )

    assert pointers(assert_problem(response, 409, "subject-suppressed")) == {"/subject_email"}
    assert everything() == before


def test_suppression_entries_kept_before_the_skeleton_still_refuse_the_exact_id(
    client_rw: Any, organization: Organization, source: Source, purpose: Purpose
) -> None:
    """Rows written before per-organization keys and skeletons: the untenanted exact index, no skeleton."""
    SuppressedIdentifier.objects.create(
        organization=organization,
        kind="external_id",
        identifier_index=blind_index("legacy-3", namespace="suppression:external_id"),
    )
    services.purpose_update(purpose=purpose, actor="test", description="bump the catalog version")

    response = client_rw.post("/api/v1/consent-events", event_body(subject_id="legacy-3"), format="json")

    assert_problem(response, 409, "subject-suppressed")
    assert not Subject.objects.filter(external_id="legacy-3").exists()


# --------------------------------------------------------------------------------------------
# Item 4: blind indexes keyed per organization
# --------------------------------------------------------------------------------------------


def test_the_same_email_gives_different_indexes_in_two_organizations(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    other = second_organization()
    email = "Ana@Example.org"

    mine = services.consent_record(organization=organization, item=event_input(subject_email=email)).event.subject
    theirs = services.consent_record(organization=other, item=event_input(subject_email=email)).event.subject
    services.subject_suppress(organization=organization, identifiers={"email": [email]}, actor="test")
    services.subject_suppress(organization=other, identifiers={"email": [email]}, actor="test")

    assert mine.email_index
    assert theirs.email_index
    assert mine.email_index != theirs.email_index
    assert mine.email_index != blind_index(normalize_email(email), namespace="email")  # not the untenanted form
    indexes = dict(SuppressedIdentifier.objects.values_list("organization_id", "identifier_index"))
    assert indexes[organization.pk] != indexes[other.pk]


def test_suppression_in_one_organization_does_not_refuse_the_same_id_in_another(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    other = second_organization()
    services.subject_suppress(organization=organization, identifiers={"external_id": ["cust-5"]}, actor="test")

    recorded = services.consent_record(organization=other, item=event_input(subject_id="cust-5"))

    assert recorded.event.subject.organization == other


def test_reindex_moves_email_indexes_to_a_new_key_and_suppression_keeps_matching(
    organization: Organization, source: Source, purpose: Purpose, settings: Any
) -> None:
    services.consent_record(organization=organization, item=event_input(subject_email="bo@example.org"))
    services.subject_suppress(organization=organization, identifiers={"external_id": ["gone-1"]}, actor="test")
    old_key = settings.PROVENANT_BLIND_INDEX_KEY
    new_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="

    with override_settings(PROVENANT_BLIND_INDEX_KEY=new_key, PROVENANT_PREVIOUS_BLIND_INDEX_KEYS=[old_key]):
        call_command("reindex_blind_indexes", stdout=_Sink())
        subject = Subject.objects.get(external_id="cust-1")
        assert subject.email_index == blind_index("bo@example.org", namespace="email", tenant=str(organization.pk))
        services.purpose_update(purpose=purpose, actor="test", description="bump the catalog version")
        with pytest.raises(services.SubjectSuppressed):
            services.consent_record(organization=organization, item=event_input(subject_id="gone-1"))
    assert not Subject.objects.filter(external_id="gone-1").exists()


class _Sink:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


# --------------------------------------------------------------------------------------------
# Item 4: erasure leaves no external id; the person can't come back
# --------------------------------------------------------------------------------------------


def test_erasure_replaces_an_email_used_as_subject_id_by_its_keyed_hash(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    email_id = "ana.lopez@example.org"
    subject = services.consent_record(organization=organization, item=event_input(subject_id=email_id)).event.subject

    erased = services.subject_erase(subject=subject, actor="test")

    assert erased.external_id != email_id
    assert "ana" not in erased.external_id
    assert "example" not in erased.external_id
    assert erased.external_id.startswith("erased-")
    assert not Subject.objects.filter(external_id__icontains="lopez").exists()
    # Whoever holds the original id (the DSAR, the client) still finds the erased row: one subject, one chain.
    assert subject_by_external_id(organization=organization, external_id=email_id) == erased
    again = services.consent_record(organization=organization, item=event_input(subject_id=email_id)).event
    assert again.subject_id == erased.pk
    assert Subject.objects.count() == 1


def test_after_erasure_and_suppression_the_person_cant_come_back_through_any_variant(
    client_rw: Any, organization: Organization, source: Source, purpose: Purpose
) -> None:
    """What a DSAR erasure does (consent's part): erase, then suppress the ids it knew."""
    subject = services.consent_record(organization=organization, item=event_input(subject_id="paypal-7")).event.subject
    services.subject_erase(subject=subject, actor="test")
    services.subject_suppress(organization=organization, identifiers={"external_id": ["paypal-7"]}, actor="test")
    before = everything()

    for variant in ("paypal-7", f"p{CYRILLIC_A}ypal-7", "PayPal-7"):
        response = client_rw.post("/api/v1/consent-events", event_body(subject_id=variant), format="json")
        assert_problem(response, 409, "subject-suppressed")
        signal = client_rw.post(
            "/api/v1/signals", {"subject_id": variant, "gpc": True, "jurisdiction": "US-CA"}, format="json"
        )
        assert_problem(signal, 409, "subject-suppressed")
    response = client_rw.post("/api/v1/consent-events", event_body(subject_id="paypal\u200b-7"), format="json")
    assert_problem(response, 422, "validation-error")

    assert everything() == before


# --------------------------------------------------------------------------------------------
# Item 6: a GPC signal for a suppressed identifier creates no subject
# --------------------------------------------------------------------------------------------


def test_gpc_signal_for_a_suppressed_id_is_refused_and_creates_no_subject(
    client_rw: Any, organization: Organization, source: Source, purpose: Purpose
) -> None:
    services.purpose_update(purpose=purpose, actor="test", is_sale_or_sharing=True)
    services.subject_suppress(organization=organization, identifiers={"external_id": ["gone-2"]}, actor="test")
    before = everything()

    response = client_rw.post(
        "/api/v1/signals", {"subject_id": "gone-2", "gpc": True, "jurisdiction": "US-CA"}, format="json"
    )
    header = client_rw.post(
        "/api/v1/consent-events", event_body(subject_id="gone-2", jurisdiction="US-CA"), format="json", HTTP_SEC_GPC="1"
    )
    link = client_rw.post("/api/v1/subjects/device-1/links", {"subject_id": "gone-2"}, format="json")

    assert pointers(assert_problem(response, 409, "subject-suppressed")) == {"/subject_id"}
    assert_problem(header, 409, "subject-suppressed")
    assert_problem(link, 409, "subject-suppressed")
    assert everything() == before
    assert not Subject.objects.filter(external_id__in=["gone-2", "device-1"]).exists()


def test_a_system_write_creates_no_subject_for_a_suppressed_id(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    services.subject_suppress(organization=organization, identifiers={"external_id": ["gone-3"]}, actor="test")

    with pytest.raises(services.SubjectSuppressed):
        services.consent_record_many(
            organization=organization,
            items=[event_input(subject_id="gone-3", action="refuse", source=services.system_source(organization).key)],
            allow_system_actions=True,
        )

    assert not Subject.objects.filter(external_id="gone-3").exists()


# --------------------------------------------------------------------------------------------
# Item 10: a subject's data key is bound to the subject
# --------------------------------------------------------------------------------------------


def copy_data_key(source_subject: Subject, target: Subject) -> None:
    """The attack, as someone with a database login: give ``target`` the wrapped key of ``source_subject``."""
    Subject.objects.filter(pk=target.pk).update(wrapped_data_key=source_subject.wrapped_data_key)


def test_new_data_keys_are_bound_to_their_subject(organization: Organization, source: Source, purpose: Purpose) -> None:
    subject = services.consent_record(organization=organization, item=event_input(subject_email="a@example.org")).event
    stored = Subject.objects.get(pk=subject.subject_id)

    assert bytes(stored.wrapped_data_key)[:4] == b"pvk2"
    assert unwrap_data_key(stored.wrapped_data_key, owner=subject_key_owner(stored.uuid))


def test_a_data_key_copied_to_another_subject_is_refused_with_a_409(
    client_rw: Any, organization: Organization, source: Source, purpose: Purpose
) -> None:
    victim = services.consent_record(
        organization=organization, item=event_input(subject_id="victim", subject_email="v@example.org")
    ).event.subject
    thief = services.consent_record(
        organization=organization, item=event_input(subject_id="thief", ip_address="203.0.113.9")
    ).event.subject
    copy_data_key(victim, thief)
    before = everything()

    write = client_rw.post(
        "/api/v1/consent-events", event_body(subject_id="thief", subject_email="t@example.org"), format="json"
    )
    read = client_rw.get("/api/v1/subjects/thief/consent-events")

    assert_problem(write, 409, "subject-key-unavailable")
    assert_problem(read, 409, "subject-key-unavailable")
    assert everything() == before
    thief.refresh_from_db()
    with pytest.raises(services.SubjectKeyUnavailable):
        subject_email(Subject(uuid=thief.uuid, wrapped_data_key=thief.wrapped_data_key, email_sealed="x"))


def test_legacy_unbound_keys_are_accepted_until_rewrap_keys_binds_them(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    """Lazy acceptance: a key wrapped before binding (pvk1) still opens; rewrap_keys binds it to its subject."""
    subject = services.consent_record(
        organization=organization, item=event_input(subject_email="old@example.org")
    ).event.subject
    ring = master_keyring()
    data_key = unwrap_data_key(subject.wrapped_data_key, owner=subject_key_owner(subject.uuid))
    Subject.objects.filter(pk=subject.pk).update(wrapped_data_key=ring.wrap(data_key))  # as stored before binding
    subject.refresh_from_db()
    assert bytes(subject.wrapped_data_key)[:4] == b"pvk1"
    assert subject_email(subject) == "old@example.org"

    call_command("rewrap_keys", stdout=_Sink())

    subject.refresh_from_db()
    assert bytes(subject.wrapped_data_key)[:4] == b"pvk2"
    assert subject_email(subject) == "old@example.org"
    other = services.consent_record(organization=organization, item=event_input(subject_id="other")).event.subject
    copy_data_key(subject, other)
    other.refresh_from_db()
    with pytest.raises(services.SubjectKeyUnavailable):
        subject_email(Subject(uuid=other.uuid, wrapped_data_key=other.wrapped_data_key, email_sealed="x"))
