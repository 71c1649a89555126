"""Security audit item 10 (the DSAR part): every wrapped key DSAR stores (a request's data key, an export's data
key, a connector's secret) is bound to its owner (table, public id, purpose) as AEAD associated data and
registered with core.key_custody, so ``rewrap_keys`` re-wraps it, binds keys written before the binding, and a
key copied to another row is refused (never a 500)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, TestCase

from core.crypto import WRAP_FORMAT, WRAP_FORMAT_BOUND, CryptoError, master_keyring, unwrap_data_key
from core.key_custody import rewrap_column, wrapped_key_columns
from core.models import AuditLogEntry, Organization
from dsar import selectors, services
from dsar.models import Connector, DataSubjectRequest, DsarExport
from tests.consent.api_contract import assert_problem
from tests.dsar.downloads import EXPORT_LINK, download_by_api, download_by_page

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"


def request_in(organization: Organization, email: str = EMAIL, request_type: str = "access") -> DataSubjectRequest:
    return services.dsar_create(
        organization=organization,
        request_type=request_type,
        channel="api",
        actor="test",
        jurisdiction="DE",
        subject_external_id="cust-1",
        requester=services.Requester(email=email, name="Ada Lovelace"),
    )


def exported(organization: Organization, email: str) -> DataSubjectRequest:
    request = request_in(organization, email)
    services.dsar_identity_verify(request=request, actor="legal", note="passport")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    return request


def dsar_columns() -> dict[str, Any]:
    return {column.label: column for column in wrapped_key_columns() if column.model._meta.app_label == "dsar"}


def test_the_dsar_key_columns_are_registered_with_key_custody() -> None:
    assert set(dsar_columns()) == {
        "dsar.DataSubjectRequest.wrapped_data_key",
        "dsar.DsarExport.wrapped_data_key",
        "dsar.Connector.secret_sealed",
    }


def test_a_request_key_copied_to_another_request_opens_nothing_there(
    organization: Organization, admin_client: Client
) -> None:
    victim = request_in(organization, "victim@example.com")
    attacker = request_in(organization, "attacker@example.com")
    assert bytes(victim.wrapped_data_key)[:4] == WRAP_FORMAT_BOUND
    DataSubjectRequest.objects.filter(pk=attacker.pk).update(wrapped_data_key=victim.wrapped_data_key)
    attacker.refresh_from_db()

    page = admin_client.get(f"/admin/dsar/datasubjectrequest/{attacker.pk}/change/")
    revealed = admin_client.post(f"/admin/dsar/datasubjectrequest/{attacker.pk}/reveal-contact/")

    assert page.status_code == 200
    assert revealed.status_code == 200
    assert "victim" not in revealed.content.decode()
    assert "attacker@example.com" not in revealed.content.decode()
    assert selectors.dsar_requester_email(attacker) == ""
    with pytest.raises(CryptoError):
        unwrap_data_key(attacker.wrapped_data_key, owner=f"dsar_datasubjectrequest/{attacker.public_id}/data-key")
    assert selectors.dsar_requester_email(victim) == "victim@example.com", "the key still opens its own row"


def test_an_export_key_copied_to_another_export_is_refused_not_a_500(organization: Organization) -> None:
    first = exported(organization, "first@example.com")
    second = exported(organization, "second@example.com")
    source = DsarExport.objects.get(request=first)
    DsarExport.objects.filter(request=second).update(wrapped_data_key=source.wrapped_data_key)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.dsar_transition(request=second, to_status="completed", actor="legal")
    sent = next(m for m in mail.outbox if second.public_id in m.subject)
    match = EXPORT_LINK.search(sent.body)
    assert match is not None
    link = match.group(1)
    downloads = AuditLogEntry.objects.filter(action="dsar.export_downloaded").count()

    response = download_by_api(link)
    page = download_by_page(link)

    assert_problem(response, 409, "export-unreadable")
    assert page.status_code == 409
    assert AuditLogEntry.objects.filter(action="dsar.export_downloaded").count() == downloads


def test_a_connector_secret_copied_to_another_connector_does_not_open(organization: Organization) -> None:
    first, _ = services.connector_create(
        organization=organization, key="crm", name="CRM", url="https://crm.example", actor="t"
    )
    second, _ = services.connector_create(
        organization=organization, key="billing", name="Billing", url="https://billing.example", actor="t"
    )
    Connector.objects.filter(pk=second.pk).update(secret_sealed=first.secret_sealed)
    second.refresh_from_db()

    with pytest.raises(CryptoError):
        selectors.connector_secret(second)
    assert selectors.connector_secret(first) is not None


def test_rewrap_keys_binds_keys_written_before_the_binding_and_refuses_copies(
    organization: Organization, settings: Any
) -> None:
    request = request_in(organization)
    export_owner_request = exported(organization, "second@example.com")
    connector, secret = services.connector_create(
        organization=organization, key="crm", name="CRM", url="https://crm.example", actor="t"
    )
    ring = master_keyring()
    # As rows written before the binding hold them: wrapped by the master key only (legacy format).
    data_key = unwrap_data_key(request.wrapped_data_key, owner=f"dsar_datasubjectrequest/{request.public_id}/data-key")
    DataSubjectRequest.objects.filter(pk=request.pk).update(wrapped_data_key=ring.wrap(data_key))
    export = DsarExport.objects.get(request=export_owner_request)
    export_key = unwrap_data_key(export.wrapped_data_key, owner=f"dsar_dsarexport/{export.public_id}/data-key")
    DsarExport.objects.filter(pk=export.pk).update(wrapped_data_key=ring.wrap(export_key))
    raw_secret = base64.b64decode(secret.removeprefix("whsec_"))
    Connector.objects.filter(pk=connector.pk).update(secret_sealed=base64.b64encode(ring.wrap(raw_secret)).decode())
    request.refresh_from_db()
    connector.refresh_from_db()
    assert bytes(request.wrapped_data_key)[:4] == WRAP_FORMAT
    # Accepted lazily until rewrap_keys binds them.
    assert selectors.dsar_requester_email(request) == EMAIL
    assert selectors.connector_secret(connector) == secret

    with pytest.raises(CommandError):
        call_command("rewrap_keys", "--check")
    call_command("rewrap_keys")
    call_command("rewrap_keys", "--check")

    request.refresh_from_db()
    connector.refresh_from_db()
    assert bytes(request.wrapped_data_key)[:4] == WRAP_FORMAT_BOUND
    assert DsarExport.objects.get(pk=export.pk).wrapped_data_key[:4] == WRAP_FORMAT_BOUND
    assert selectors.dsar_requester_email(request) == EMAIL
    assert selectors.connector_secret(connector) == secret
    # Bound now: a copy to another row no longer opens.
    other = request_in(organization, "other@example.com")
    DataSubjectRequest.objects.filter(pk=other.pk).update(wrapped_data_key=request.wrapped_data_key)
    other.refresh_from_db()
    assert selectors.dsar_requester_email(other) == ""
    # At the next master-key rotation, rewrap_keys re-wraps the rest and refuses the copy (names its row).
    settings.PROVENANT_PREVIOUS_MASTER_KEYS = [settings.PROVENANT_MASTER_KEY]
    settings.PROVENANT_MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
    report = rewrap_column(dsar_columns()["dsar.DataSubjectRequest.wrapped_data_key"])
    assert report.failed == [str(other.pk)]
    assert report.changed == DataSubjectRequest.objects.count() - 1
    assert selectors.dsar_requester_email(request) == EMAIL
