"""The legal team's admin, driven through Django's test client as a staff superuser on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone

from consent import services as consent_services
from consent.models import ConsentEvent, LedgerVerificationRun, PolicyVersion, Purpose, Source, Subject
from consent.services import consent_record, subject_erase, system_source
from core.models import ApiKey, AuditLogEntry, Organization
from core.selectors import api_key_digest, api_key_for_secret
from core.services import api_key_create
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

NOTICE_SHA256 = "ab" * 32


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _grant_then_withdraw(organization: Organization) -> list[ConsentEvent]:
    now = timezone.now()
    grant = consent_record(
        organization=organization,
        item=event_input(occurred_at=now - timedelta(hours=2), subject_email="Ada@Example.com"),
    ).event
    withdraw = consent_record(
        organization=organization,
        item=event_input(action="withdraw", occurred_at=now - timedelta(hours=1), jurisdiction="US-CA", gpc=True),
    ).event
    return [grant, withdraw]


# --------------------------------------------------------------------------------------------
# Subjects: state beside history
# --------------------------------------------------------------------------------------------


def test_subject_page_shows_current_state_beside_history(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant, withdraw = _grant_then_withdraw(organization)
    subject = Subject.objects.get(organization=organization, external_id="cust-1")

    response = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    state_html = html.split('id="consent-state"')[1].split('id="consent-history"')[0]
    assert "marketing-email" in state_html
    assert "consent-status-withdrawn" in state_html
    history_html = html.split('id="consent-history"')[1]
    assert history_html.index(grant.event_id) < history_html.index(withdraw.event_id)
    assert grant.hash[:12] in history_html
    assert withdraw.hash[:12] in history_html
    assert "US-CA" in history_html
    assert "web-signup" in history_html
    assert "2 events, chain order" in history_html
    # The email is masked; revealing it is an audited POST (issue #11, item 7: tests/consent/test_admin_security.py).
    assert "ada@example.com" not in html
    assert "a•••@e•••.com" in html
    assert 'name="_save"' not in html  # view-only


def test_erased_subject_shows_erased_instead_of_email(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose
) -> None:
    _grant_then_withdraw(organization)
    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    subject_erase(subject=subject, actor="test")

    response = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<div class="readonly" id="subject-email">erased</div>' in html
    assert "ada@example.com" not in html.lower()


def test_subject_history_pages_through_long_ledgers(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose
) -> None:
    _grant_then_withdraw(organization)
    subject = Subject.objects.get(organization=organization, external_id="cust-1")

    response = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/?after=1")

    history_html = response.content.decode().split('id="consent-history"')[1]
    first, second = ConsentEvent.objects.filter(subject=subject).order_by("chain_index")
    assert second.event_id in history_html
    assert first.event_id not in history_html


def test_subjects_cannot_be_added_changed_or_deleted(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose
) -> None:
    _grant_then_withdraw(organization)
    subject = Subject.objects.get(organization=organization, external_id="cust-1")

    assert admin_client.get("/admin/consent/subject/add/").status_code == 403
    delete = admin_client.post(f"/admin/consent/subject/{subject.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    response = admin_client.post(f"/admin/consent/subject/{subject.pk}/change/", {"external_id": "renamed"})
    assert response.status_code == 403
    subject.refresh_from_db()
    assert subject.external_id == "cust-1"


# --------------------------------------------------------------------------------------------
# The ledger is read-only, even for superusers
# --------------------------------------------------------------------------------------------


def test_event_add_change_and_delete_are_refused_for_superuser(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant, _ = _grant_then_withdraw(organization)
    url = f"/admin/consent/consentevent/{grant.pk}"

    assert admin_client.get("/admin/consent/consentevent/add/").status_code == 403
    assert admin_client.post("/admin/consent/consentevent/add/", {"action": "grant"}).status_code == 403
    change = admin_client.post(f"{url}/change/", {"action": "withdraw", "jurisdiction": "FR"})
    assert change.status_code == 403
    assert admin_client.get(f"{url}/delete/").status_code == 403
    assert admin_client.post(f"{url}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        "/admin/consent/consentevent/",
        {"action": "delete_selected", "_selected_action": [grant.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)

    assert ConsentEvent.objects.count() == 2
    grant_after = ConsentEvent.objects.get(pk=grant.pk)
    assert (grant_after.action, grant_after.jurisdiction, grant_after.hash) == ("grant", "DE", grant.hash)


def test_event_detail_is_read_only_and_changelist_offers_no_actions(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant, _ = _grant_then_withdraw(organization)

    detail = admin_client.get(f"/admin/consent/consentevent/{grant.pk}/change/")
    changelist = admin_client.get("/admin/consent/consentevent/")

    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert grant.hash in detail.content.decode()
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    assert changelist.context["cl"].result_count == 2


@pytest.mark.parametrize(
    "query",
    [
        "action__exact=withdraw",
        "gpc__exact=1",
        "jurisdiction=US",
        "jurisdiction=US-CA",
        "collection_method__exact=web_form",
        "q=cust-1",
        "occurred_at__gte={since}",
        "recorded_at__gte={since}",
        "occurred_at__year={year}",
    ],
)
def test_event_changelist_filters_respond(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose, query: str
) -> None:
    _grant_then_withdraw(organization)
    now = timezone.now()
    query = query.format(since=quote((now - timedelta(days=1)).isoformat()), year=now.year)

    response = admin_client.get(f"/admin/consent/consentevent/?{query}")

    assert response.status_code == 200
    expected = 1 if query.startswith(("action", "gpc", "jurisdiction")) else 2
    assert response.context["cl"].result_count == expected


def test_event_changelist_filters_by_purpose_source_and_event_id(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant, _ = _grant_then_withdraw(organization)

    by_purpose = admin_client.get(f"/admin/consent/consentevent/?purpose__id__exact={purpose.pk}")
    by_source = admin_client.get(f"/admin/consent/consentevent/?source__id__exact={source.pk}")
    by_event = admin_client.get(f"/admin/consent/consentevent/?q={grant.event_id}")

    assert [r.status_code for r in (by_purpose, by_source, by_event)] == [200, 200, 200]
    assert by_purpose.context["cl"].result_count == 2
    assert by_source.context["cl"].result_count == 2
    assert [e.pk for e in by_event.context["cl"].result_list] == [grant.pk]


def test_event_changelist_queries_do_not_grow_with_rows(
    admin_client: Client,
    organization: Organization,
    source: Source,
    purpose: Purpose,
    django_assert_max_num_queries: Any,
) -> None:
    for index in range(12):
        consent_record(organization=organization, item=event_input(subject_id=f"cust-{index}"))

    with django_assert_max_num_queries(14) as captured:
        response = admin_client.get("/admin/consent/consentevent/")
    few_rows = len(captured)
    for index in range(12, 40):
        consent_record(organization=organization, item=event_input(subject_id=f"cust-{index}"))
    with django_assert_max_num_queries(few_rows) as captured:
        response = admin_client.get("/admin/consent/consentevent/")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 40


# --------------------------------------------------------------------------------------------
# Catalog: writes go through the services and are audited
# --------------------------------------------------------------------------------------------


def test_creating_a_source_goes_through_the_service_and_is_audited(
    admin_client: Client, admin_user: AbstractUser, organization: Organization
) -> None:
    response = admin_client.post(
        "/admin/consent/source/add/",
        {
            "organization": organization.pk,
            "key": "partner-feed",
            "name": "Partner feed",
            "kind": "partner",
            "vendor_name": "Initech",
            "lawful_basis": "consent",
        },
    )

    assert response.status_code == 302, response.content.decode()
    source = Source.objects.get(organization=organization, key="partner-feed")
    entry = AuditLogEntry.objects.get(action="source.created", object_id=str(source.pk))
    assert entry.actor == f"user:{admin_user.pk}"
    assert entry.organization == organization


def test_source_key_is_fixed_after_creation(admin_client: Client, organization: Organization, source: Source) -> None:
    response = admin_client.post(
        f"/admin/consent/source/{source.pk}/change/",
        {"key": "renamed", "name": "Signup form v2", "kind": "web_form", "lawful_basis": "consent"},
    )

    assert response.status_code == 302, response.content.decode()
    source.refresh_from_db()
    assert (source.key, source.name) == ("web-signup", "Signup form v2")
    entry = AuditLogEntry.objects.get(action="source.updated", object_id=str(source.pk))
    assert entry.data["fields"] == ["name"]


def test_builtin_source_is_view_only_and_cannot_be_retired(admin_client: Client, organization: Organization) -> None:
    builtin = system_source(organization)

    page = admin_client.get(f"/admin/consent/source/{builtin.pk}/change/")
    post = admin_client.post(f"/admin/consent/source/{builtin.pk}/change/", {"name": "Hijacked"})
    retire = admin_client.post(
        "/admin/consent/source/",
        {"action": "retire_sources", "_selected_action": [builtin.pk]},
        follow=True,
    )

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    assert any("Built-in sources cannot be retired" in m for m in _messages(retire))
    builtin.refresh_from_db()
    assert builtin.is_active
    assert builtin.name == "Provenant (system)"


def test_system_kind_is_not_offered_for_new_sources(admin_client: Client, organization: Organization) -> None:
    response = admin_client.get("/admin/consent/source/add/")

    assert response.status_code == 200
    assert 'value="system"' not in response.content.decode()


def test_retire_action_retires_through_the_service(
    admin_client: Client, admin_user: AbstractUser, organization: Organization, source: Source
) -> None:
    response = admin_client.post(
        "/admin/consent/source/", {"action": "retire_sources", "_selected_action": [source.pk]}, follow=True
    )

    assert response.status_code == 200
    source.refresh_from_db()
    assert source.is_active is False
    assert AuditLogEntry.objects.filter(
        action="source.retired", object_id=str(source.pk), actor=f"user:{admin_user.pk}"
    ).exists()


def test_creating_a_purpose_goes_through_the_service_and_is_audited(
    admin_client: Client, organization: Organization
) -> None:
    response = admin_client.post(
        "/admin/consent/purpose/add/",
        {
            "organization": organization.pk,
            "key": "analytics",
            "name": "Analytics",
            "legal_basis": "consent",
            "validity": "P6M",
        },
    )

    assert response.status_code == 302, response.content.decode()
    purpose = Purpose.objects.get(organization=organization, key="analytics")
    assert purpose.validity == "P6M"
    assert AuditLogEntry.objects.filter(action="purpose.created", object_id=str(purpose.pk)).exists()


def test_service_refusal_is_shown_as_an_error_not_a_500(admin_client: Client, organization: Organization) -> None:
    response = admin_client.post(
        "/admin/consent/purpose/add/",
        {
            "organization": organization.pk,
            "key": "analytics",
            "name": "Analytics",
            "legal_basis": "consent",
            "validity": "six months",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["validity"]
    assert any("duration" in m.lower() or "six months" in m for m in _messages(response))
    assert 'value="analytics"' in response.content.decode()  # the posted form is shown again
    assert not Purpose.objects.filter(key="analytics").exists()
    assert not AuditLogEntry.objects.filter(action="purpose.created", data__key="analytics").exists()


def test_purpose_update_keeps_key_and_is_audited(
    admin_client: Client, organization: Organization, purpose: Purpose
) -> None:
    response = admin_client.post(
        f"/admin/consent/purpose/{purpose.pk}/change/",
        {"key": "other", "name": "Marketing email", "legal_basis": "consent", "is_sensitive": "on", "validity": "P1Y"},
    )

    assert response.status_code == 302, response.content.decode()
    purpose.refresh_from_db()
    assert (purpose.key, purpose.is_sensitive, purpose.validity) == ("marketing-email", True, "P1Y")
    entry = AuditLogEntry.objects.get(action="purpose.updated", object_id=str(purpose.pk))
    assert entry.data["fields"] == ["is_sensitive", "validity"]


def test_refused_update_changes_nothing(admin_client: Client, organization: Organization, purpose: Purpose) -> None:
    response = admin_client.post(
        f"/admin/consent/purpose/{purpose.pk}/change/",
        {"name": "Renamed", "legal_basis": "consent", "validity": "forever"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["validity"]
    purpose.refresh_from_db()
    assert (purpose.name, purpose.validity) == ("Marketing email", "")
    assert not AuditLogEntry.objects.filter(action="purpose.updated").exists()


def test_creating_a_policy_version_goes_through_the_service_and_is_audited(
    admin_client: Client, organization: Organization, purpose: Purpose
) -> None:
    response = admin_client.post(
        "/admin/consent/policyversion/add/",
        {
            "purpose": purpose.pk,
            "version": "2025-01",
            "notice_sha256": NOTICE_SHA256,
            "notice_url": "https://acme.example/privacy",
            "effective_at_0": "2025-01-01",
            "effective_at_1": "00:00:00",
            "is_material": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()
    version = PolicyVersion.objects.get(purpose=purpose, version="2025-01")
    assert version.organization == organization
    assert version.is_material
    entry = AuditLogEntry.objects.get(action="policy_version.created", object_id=str(version.pk))
    assert entry.data == {"purpose": "marketing-email", "version": "2025-01", "is_material": True}


def test_policy_version_form_names_the_organization_of_each_purpose(
    admin_client: Client, organization: Organization, other_organization: Organization, purpose: Purpose
) -> None:
    consent_services.purpose_create(organization=other_organization, actor="test", key="marketing-email", name="M")

    response = admin_client.get("/admin/consent/policyversion/add/")

    html = response.content.decode()
    assert "acme / marketing-email" in html
    assert "globex / marketing-email" in html


def test_policy_versions_are_view_only_once_created(
    admin_client: Client, organization: Organization, purpose: Purpose
) -> None:
    version = consent_services.policy_version_create(
        purpose=purpose, actor="test", version="v1", notice_sha256=NOTICE_SHA256, effective_at=timezone.now()
    )

    page = admin_client.get(f"/admin/consent/policyversion/{version.pk}/change/")
    post = admin_client.post(f"/admin/consent/policyversion/{version.pk}/change/", {"version": "v2"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403


@pytest.mark.parametrize("model", ["source", "purpose", "policyversion", "organization", "apikey"])
def test_catalog_rows_cannot_be_deleted(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose, model: str
) -> None:
    version = consent_services.policy_version_create(
        purpose=purpose, actor="test", version="v1", notice_sha256=NOTICE_SHA256, effective_at=timezone.now()
    )
    api_key, _ = api_key_create(organization=organization, name="k", scopes=["consent:read"], actor="test")
    pk = {
        "source": source.pk,
        "purpose": purpose.pk,
        "policyversion": version.pk,
        "organization": organization.pk,
        "apikey": api_key.pk,
    }[model]
    app = "core" if model in ("organization", "apikey") else "consent"

    response = admin_client.post(f"/admin/{app}/{model}/{pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Source.objects.filter(pk=source.pk).exists()
    assert Purpose.objects.filter(pk=purpose.pk).exists()
    assert PolicyVersion.objects.filter(pk=version.pk).exists()
    assert ApiKey.objects.filter(pk=api_key.pk).exists()


# --------------------------------------------------------------------------------------------
# Organizations and ledger verification
# --------------------------------------------------------------------------------------------


def test_creating_an_organization_goes_through_the_service(admin_client: Client, admin_user: AbstractUser) -> None:
    response = admin_client.post("/admin/core/organization/add/", {"slug": "initech", "name": "Initech"})

    assert response.status_code == 302, response.content.decode()
    organization = Organization.objects.get(slug="initech")
    assert AuditLogEntry.objects.filter(
        action="organization.created", organization=organization, actor=f"user:{admin_user.pk}"
    ).exists()


def test_verify_ledger_action_records_a_run_and_reports_it(
    admin_client: Client,
    admin_user: AbstractUser,
    organization: Organization,
    source: Source,
    purpose: Purpose,
) -> None:
    _grant_then_withdraw(organization)

    response = admin_client.post(
        "/admin/core/organization/",
        {"action": "verify_ledger", "_selected_action": [organization.pk]},
        follow=True,
    )

    assert response.status_code == 200
    run = LedgerVerificationRun.objects.get(organization=organization)
    assert run.is_valid
    assert run.events_checked == 2
    assert run.triggered_by == f"user:{admin_user.pk}"
    assert any("acme: ledger valid: 2 events of 1 subjects" in m for m in _messages(response))


# --------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------


def test_creating_an_api_key_shows_the_secret_once_and_stores_only_its_digest(
    admin_client: Client, admin_user: AbstractUser, organization: Organization
) -> None:
    response = admin_client.post(
        "/admin/core/apikey/add/",
        {"organization": organization.pk, "name": "CRM sync", "scopes": ["consent:read", "consent:write"]},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = next(m.split()[-1] for m in _messages(response) if "never be shown again" in m)
    assert secret in response.content.decode()
    api_key = ApiKey.objects.get(name="CRM sync")
    assert api_key.digest == api_key_digest(secret)
    assert api_key_for_secret(secret) == api_key
    assert api_key.scopes == ["consent:read", "consent:write"]
    assert api_key.created_by == admin_user
    assert secret not in str(AuditLogEntry.objects.get(action="api_key.created").data)

    later_pages = [
        admin_client.get("/admin/core/apikey/"),
        admin_client.get(f"/admin/core/apikey/{api_key.pk}/change/"),
        admin_client.get("/admin/"),
    ]
    for page in later_pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert secret not in html
        assert api_key.digest not in html
    assert api_key.prefix in later_pages[0].content.decode()


def test_api_key_needs_a_known_scope(admin_client: Client, organization: Organization) -> None:
    response = admin_client.post(
        "/admin/core/apikey/add/", {"organization": organization.pk, "name": "bad", "scopes": ["admin:all"]}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["scopes"]
    assert not ApiKey.objects.exists()


def test_an_api_keys_name_and_scopes_are_never_edited(admin_client: Client, organization: Organization) -> None:
    api_key, _ = api_key_create(organization=organization, name="k", scopes=["consent:read"], actor="test")

    # The change page edits the rate limit only (tests/core/test_api_key_rate_limit_edit.py); other fields are
    # read-only and ignored when posted.
    response = admin_client.post(f"/admin/core/apikey/{api_key.pk}/change/", {"name": "x", "scopes": ["consent:write"]})

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.name, api_key.scopes, api_key.rate_limit_per_minute) == ("k", ["consent:read"], None)


def test_revoke_action_revokes_through_the_service(
    admin_client: Client, admin_user: AbstractUser, organization: Organization
) -> None:
    api_key, secret = api_key_create(organization=organization, name="k", scopes=["consent:read"], actor="test")

    response = admin_client.post(
        "/admin/core/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]}, follow=True
    )

    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key_for_secret(secret) is None
    assert AuditLogEntry.objects.filter(
        action="api_key.revoked", object_id=str(api_key.pk), actor=f"user:{admin_user.pk}"
    ).exists()
    assert any("Revoked 1 API key" in m for m in _messages(response))
    revoked_list = admin_client.get("/admin/core/apikey/?status=revoked")
    assert revoked_list.context["cl"].result_count == 1


# --------------------------------------------------------------------------------------------
# Read-only lists and the site itself
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/core/auditlogentry/",
        "/admin/core/auditlogentry/?action__exact=source.created",
        "/admin/core/auditlogentry/?object_type__exact=source&q=test",
        "/admin/consent/ledgerverificationrun/",
        "/admin/consent/ledgerverificationrun/?is_valid__exact=1",
        "/admin/consent/subject/?data_key_destroyed_at__isempty=1",
        "/admin/consent/subject/?q=cust",
        "/admin/consent/source/?kind__exact=web_form&is_active__exact=1",
        "/admin/consent/purpose/?legal_basis__exact=consent",
        "/admin/consent/policyversion/?is_material__exact=0",
        "/admin/core/organization/?q=acme",
        "/admin/core/apikey/?status=active",
    ],
)
def test_changelists_and_filters_respond(
    admin_client: Client, organization: Organization, source: Source, purpose: Purpose, url: str
) -> None:
    _grant_then_withdraw(organization)
    consent_services.ledger_integrity_check(organization=organization, actor="test")
    consent_services.policy_version_create(
        purpose=purpose, actor="test", version="v1", notice_sha256=NOTICE_SHA256, effective_at=timezone.now()
    )
    api_key_create(organization=organization, name="k", scopes=["consent:read"], actor="test")

    response = admin_client.get(url)

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", ["core/auditlogentry", "consent/ledgerverificationrun"])
def test_audit_and_verification_lists_are_read_only(
    admin_client: Client, organization: Organization, model: str
) -> None:
    run = consent_services.ledger_integrity_check(organization=organization, actor="test")
    entry = AuditLogEntry.objects.first()
    assert entry is not None
    pk = run.pk if "ledger" in model else entry.pk

    assert admin_client.get(f"/admin/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/{model}/{pk}/change/", {"actor": "x"}).status_code == 403
    assert admin_client.post(f"/admin/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"/admin/{model}/{pk}/change/").status_code == 200


def test_site_is_branded_provenant(admin_client: Client) -> None:
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Consent ledger administration | Provenant admin</title>" in html
    assert ">Provenant</a>" in html


def test_admin_requires_staff(client: Client, organization: Organization) -> None:
    response = client.get("/admin/core/apikey/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
