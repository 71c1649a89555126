"""Security audit item 8: stamps name and bind their tenant. Each organization signs with its own key, published
in its own JWKS (and the deployment-wide one); /stamps/verify refuses another organization's stamp without
looking anything up about its subject; receivers bind issuer, recipient and age; retired keys can be revoked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.enums import SourceKind
from core.models import AuditLogEntry, Organization
from core.problems import Conflict
from core.signals import organization_created
from provenance import selectors
from provenance.models import Recipient, SigningKey, StampRecord
from provenance.services import keys
from provenance.services.keys import (
    active_signing_key,
    provision_signing_key,
    signing_key_retire,
    signing_key_revoke,
    signing_key_rotate,
)
from provenance.services.recipients import recipient_create
from provenance.verify import Reason, verify_stamp
from tests.consent.api_contract import assert_problem
from tests.provenance.conftest import record
from tests.provenance.test_signing_keys import stamp, stamp_kid, verify_api


@pytest.fixture(autouse=True)
def organizations_without_keys() -> Iterator[None]:
    """These tests start from organizations that have no signing key yet (as those created before keys were
    provisioned with the organization), to show first use, rotation and revocation from the beginning."""
    organization_created.disconnect(dispatch_uid="provenance-signing-key")
    yield
    organization_created.connect(provision_signing_key, dispatch_uid="provenance-signing-key")


@pytest.fixture
def other_world(other_organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    """Tenant B: the same source, purpose and recipient keys as A, and its own subject "cust-1" who consents."""
    consent_services.source_create(
        organization=other_organization, actor="test", key="web-signup", name="Signup form", kind=SourceKind.WEB_FORM
    )
    purpose = consent_services.purpose_create(
        organization=other_organization, actor="test", key="marketing-email", name="Marketing email"
    )
    recipient_create(
        organization=other_organization, actor="test", key="crm", name="CRM", role="processor", purposes=[purpose.key]
    )
    record(other_organization, "cust-1", "marketing-email")
    return api_client_for(other_organization, "stamp")


@pytest.fixture
def consenting(organization: Organization, recipients: dict[str, Recipient]) -> None:
    record(organization, "cust-1", "marketing-email")


def jwks_kids(path: str) -> list[str]:
    response = APIClient().get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/jwk-set+json"
    return [key["kid"] for key in response.json()["keys"]]


# ---------------------------------------------------------------------------------------------
# The attack: tenant B verifies tenant A's stamp
# ---------------------------------------------------------------------------------------------


def test_another_tenants_stamp_is_refused_without_looking_up_the_callers_subject(
    organization: Organization, consenting: None, stamp_client: APIClient, other_world: APIClient
) -> None:
    stamped = stamp(stamp_client)
    audit_before = AuditLogEntry.objects.count()
    records_before = StampRecord.objects.count()

    with CaptureQueriesContext(connection) as queries:
        verdict = verify_api(other_world, stamped)

    assert verdict["valid"] is False
    assert verdict["reason"] == "ISSUER_MISMATCH"
    assert (verdict["consent_still_holds"], verdict["purposes_now"]) == (None, None)
    assert not [q["sql"] for q in queries.captured_queries if "consent_" in q["sql"]], "no consent or subject read"
    assert (AuditLogEntry.objects.count(), StampRecord.objects.count()) == (audit_before, records_before)
    own = verify_api(stamp_client, stamped)
    assert (own["valid"], own["consent_still_holds"]) == (True, True)


def test_a_stamp_signed_with_a_key_the_tenants_share_from_before_is_still_bound_to_its_issuer(
    organization: Organization,
    other_organization: Organization,
    consenting: None,
    stamp_client: APIClient,
    other_world: APIClient,
) -> None:
    """What migration 0005 leaves: the key of before #11 is a retired copy in every organization."""
    stamped = stamp(stamp_client)
    own_key = SigningKey.objects.get(organization=organization, kid=stamp_kid(stamped))
    SigningKey.objects.create(
        organization=other_organization,
        kid=own_key.kid,
        public_key=own_key.public_key,
        private_key_sealed=b"",
        retired_at=own_key.activated_at,
    )
    assert stamp_kid(stamped) in jwks_kids(f"/.well-known/jwks/{other_organization.slug}.json")

    verdict = verify_api(other_world, stamped)

    assert (verdict["valid"], verdict["reason"], verdict["consent_still_holds"]) == (False, "ISSUER_MISMATCH", None)


# ---------------------------------------------------------------------------------------------
# One key per organization, a JWKS per organization
# ---------------------------------------------------------------------------------------------


def test_each_organization_signs_with_its_own_key_published_in_its_own_jwks(
    organization: Organization,
    other_organization: Organization,
    consenting: None,
    stamp_client: APIClient,
    other_world: APIClient,
) -> None:
    ours, theirs = stamp(stamp_client), stamp(other_world)
    our_kid, their_kid = stamp_kid(ours), stamp_kid(theirs)

    assert our_kid != their_kid
    assert ours["body"]["privacy"]["issuer"] == organization.slug
    assert theirs["body"]["privacy"]["issuer"] == other_organization.slug
    assert ours["body"]["privacy"]["recipient"] == {"key": "crm", "role": "processor"}
    assert jwks_kids(f"/.well-known/jwks/{organization.slug}.json") == [our_kid]
    assert jwks_kids(f"/.well-known/jwks/{other_organization.slug}.json") == [their_kid]
    assert set(jwks_kids("/.well-known/jwks.json")) == {our_kid, their_kid}  # the existing URL keeps working
    their_jwks = selectors.jwks(organization=other_organization)
    result = verify_stamp(ours["body"], ours["headers"]["Privacy-Stamp"], their_jwks)
    assert (result.valid, result.reason) == (False, Reason.UNKNOWN_KEY)
    result = verify_stamp(
        ours["body"],
        ours["headers"]["Privacy-Stamp"],
        selectors.jwks(organization=organization),
        expected_issuer=organization.slug,
        expected_recipient="crm",
        max_age=60,
    )
    assert result.valid


def test_an_unknown_issuer_has_an_empty_jwks_like_an_issuer_without_keys(organization: Organization) -> None:
    """No probing which organizations use the service: both answers are the same."""
    unknown = APIClient().get("/.well-known/jwks/nobody.json")
    keyless = APIClient().get(f"/.well-known/jwks/{organization.slug}.json")

    for response in (unknown, keyless):
        assert response.status_code == 200
        assert response.json() == {"keys": []}
        assert response["Cache-Control"] == "public, max-age=300"


def test_rotation_is_per_organization(organization: Organization, other_organization: Organization) -> None:
    ours = signing_key_rotate(organization=organization, actor="test")
    theirs = signing_key_rotate(organization=other_organization, actor="test")

    newer = signing_key_rotate(organization=organization, actor="test")

    assert SigningKey.objects.get(organization=organization, is_current=True) == newer
    assert SigningKey.objects.get(organization=other_organization, is_current=True) == theirs
    assert active_signing_key(organization=other_organization).kid == theirs.kid
    ours.refresh_from_db()
    assert not ours.is_current
    rotated = AuditLogEntry.objects.filter(action="signing_key.rotated", object_id=newer.kid).get()
    assert rotated.organization_id == organization.pk


def test_rotate_signing_key_command_rotates_every_organization_with_all(
    organization: Organization, other_organization: Organization
) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError):
        call_command("rotate_signing_key", stdout=StringIO())
    assert not SigningKey.objects.exists()

    out = StringIO()
    call_command("rotate_signing_key", "--all", stdout=out)

    printed = dict(line.split() for line in out.getvalue().splitlines())
    assert set(printed) == {organization.slug, other_organization.slug}
    assert SigningKey.objects.filter(is_current=True).count() == 2


# ---------------------------------------------------------------------------------------------
# Recipient and age through the API
# ---------------------------------------------------------------------------------------------


def test_verify_refuses_a_stamp_made_for_another_recipient_or_too_old(
    consenting: None, stamp_client: APIClient
) -> None:
    stamped = stamp(stamp_client)

    def verify(**extra: Any) -> dict[str, Any]:
        response = stamp_client.post(
            "/api/v1/stamps/verify",
            {"body": stamped["body"], "privacy_stamp": stamped["headers"]["Privacy-Stamp"], **extra},
            format="json",
        )
        assert response.status_code == 200, response.content
        verdict: dict[str, Any] = response.json()
        return verdict

    assert verify(expected_recipient="ad-network")["reason"] == "RECIPIENT_MISMATCH"
    assert verify(expected_recipient="ad-network")["consent_still_holds"] is None
    assert verify(expected_recipient="crm", max_age=300)["valid"] is True
    stale = {**stamped["body"], "privacy": {**stamped["body"]["privacy"], "stamped_at": "2020-01-01T00:00:00.000000Z"}}
    response = stamp_client.post(
        "/api/v1/stamps/verify",
        {"body": stale, "privacy_stamp": stamped["headers"]["Privacy-Stamp"], "max_age": 300},
        format="json",
    )
    assert response.json()["reason"] == "EXPIRED"
    assert_problem(
        stamp_client.post(
            "/api/v1/stamps/verify",
            {"body": stamped["body"], "privacy_stamp": stamped["headers"]["Privacy-Stamp"], "max_age": 0},
            format="json",
        ),
        422,
        "validation-error",
    )


# ---------------------------------------------------------------------------------------------
# Revocation
# ---------------------------------------------------------------------------------------------


def test_a_revoked_key_leaves_the_jwks_and_its_stamps_no_longer_verify(
    organization: Organization, consenting: None, stamp_client: APIClient
) -> None:
    first = signing_key_rotate(organization=organization, actor="test")
    old_stamp = stamp(stamp_client)
    signing_key_rotate(organization=organization, actor="test")
    keys._cache.clear()
    signing_key_retire(key=first, actor="test")
    assert verify_api(stamp_client, old_stamp)["valid"] is True  # retired, not revoked: still verifies

    assert signing_key_revoke(key=first, actor="test") is True

    first.refresh_from_db()
    assert first.revoked_at is not None
    assert first.kid not in jwks_kids("/.well-known/jwks.json")
    assert first.kid not in jwks_kids(f"/.well-known/jwks/{organization.slug}.json")
    verdict = verify_api(stamp_client, old_stamp)
    assert (verdict["valid"], verdict["reason"], verdict["consent_still_holds"]) == (False, "UNKNOWN_KEY", None)
    revoked = AuditLogEntry.objects.get(action="signing_key.revoked")
    assert (revoked.object_id, revoked.organization_id) == (first.kid, organization.pk)
    assert signing_key_revoke(key=first, actor="test") is False  # a repeat changes nothing
    assert AuditLogEntry.objects.filter(action="signing_key.revoked").count() == 1


def test_the_current_key_and_a_key_not_yet_retired_cannot_be_revoked(organization: Organization) -> None:
    previous = signing_key_rotate(organization=organization, actor="test")
    current = signing_key_rotate(organization=organization, actor="test")

    for key in (current, previous):
        with pytest.raises(Conflict):
            signing_key_revoke(key=key, actor="test")

    assert not SigningKey.objects.filter(revoked_at__isnull=False).exists()
    assert set(jwks_kids("/.well-known/jwks.json")) == {current.kid, previous.kid}
    assert not AuditLogEntry.objects.filter(action="signing_key.revoked").exists()


# ---------------------------------------------------------------------------------------------
# A sealed signing key copied to another organization's row (item 10)
# ---------------------------------------------------------------------------------------------


def test_a_signing_key_copied_to_another_organization_does_not_sign(
    organization: Organization,
    other_organization: Organization,
    consenting: None,
    stamp_client: APIClient,
    other_world: APIClient,
) -> None:
    ours = signing_key_rotate(organization=organization, actor="test")
    theirs = signing_key_rotate(organization=other_organization, actor="test")
    SigningKey.objects.filter(pk=theirs.pk).update(private_key_sealed=ours.private_key_sealed)
    keys._cache.clear()
    records_before = StampRecord.objects.count()

    response = other_world.post(
        "/api/v1/stamps",
        {"recipient": "crm", "purpose": "marketing-email", "subject_id": "cust-1", "data": {"plan": "pro"}},
        format="json",
    )

    assert_problem(response, 503, "signing-key-unavailable")
    assert StampRecord.objects.count() == records_before
    assert stamp_kid(stamp(stamp_client)) == ours.kid  # the owner's key still signs
