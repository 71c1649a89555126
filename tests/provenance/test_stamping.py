"""Stamping: the ledger decides whether a subject's data may go to a recipient for a purpose. Allowed
items come back signed with the consent facts that allow them; blocked items carry a reason per
purpose and the rule it comes from. Every decision is logged without the data."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import PolicyVersion, Purpose
from core.models import Organization
from provenance import enforcement
from provenance.enums import StampReason
from provenance.models import Recipient, StampRecord
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from provenance.verify import (
    Reason,
    canonical_json,
    content_digest,
    data_digest,
    public_jwk,
    sign_stamp,
    verify_stamp,
)
from tests.consent.api_contract import assert_problem, pointers
from tests.provenance.conftest import NOTICE_SHA256, gpc_signal, record

# Values that must never reach the stamp log.
DATA: dict[str, Any] = {
    "email": "alice.stampwell@example.test",
    "name": "Alice Stampwell",
    "tags": ["loyalty-tier-obsidian"],
    "score": 987654321,
}
DATA_VALUES = ["alice.stampwell@example.test", "Alice Stampwell", "loyalty-tier-obsidian", "987654321"]
DATETIME_MEMBERS = ("stamped_at",)


def stamp_body(**overrides: Any) -> dict[str, Any]:
    """A stamp request; an override of None drops that member."""
    body: dict[str, Any] = {"recipient": "crm", "purpose": "marketing-email", "subject_id": "cust-1", "data": DATA}
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def stamp(client: APIClient, **overrides: Any) -> dict[str, Any]:
    """POST /api/v1/stamps and return the 200 body."""
    response = client.post("/api/v1/stamps", stamp_body(**overrides), format="json")
    assert response.status_code == 200, response.content[:1000]
    result: dict[str, Any] = response.json()
    return result


def jwks(client: APIClient) -> dict[str, Any]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def verify_api(client: APIClient, result: dict[str, Any], body: Any = None) -> dict[str, Any]:
    """POST /api/v1/stamps/verify with a stamp result's body (or a replacement) and headers."""
    response = client.post(
        "/api/v1/stamps/verify",
        {
            "body": result["body"] if body is None else body,
            "privacy_stamp": result["headers"]["Privacy-Stamp"],
            "content_digest": result["headers"]["Content-Digest"],
        },
        format="json",
    )
    assert response.status_code == 200, response.content[:1000]
    verdict: dict[str, Any] = response.json()
    return verdict


def assert_allowed(result: dict[str, Any]) -> dict[str, Any]:
    """An allowed result: a signed body, no reasons; returns the privacy envelope."""
    assert result["decision"] == "allow", result["reasons"]
    assert result["reasons"] == []
    assert result["body"]["data"] == DATA
    assert {"Content-Type", "Content-Digest", "Privacy-Stamp"} <= set(result["headers"])
    privacy: dict[str, Any] = result["body"]["privacy"]
    assert privacy["stamp_id"] == result["stamp_id"]
    return privacy


def assert_blocked(result: dict[str, Any], *expected: tuple[str, str]) -> None:
    """A blocked result: nothing to send, and each (purpose, reason) with the rule it comes from."""
    assert result["decision"] == "block"
    assert result["body"] is None
    assert result["headers"] == {}
    assert result["reasons"] == [
        {"purpose": purpose, "reason": reason, "rule": enforcement.RULES[reason]} for purpose, reason in expected
    ]
    assert all(item["rule"] for item in result["reasons"])


def stamp_row_text(stamp_id: str) -> str:
    """The whole stamp log row as the database holds it, every column as text."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row_to_json(t)::text FROM {StampRecord._meta.db_table} t WHERE stamp_id = %s",
            [stamp_id],
        )
        row = cursor.fetchone()
    assert row is not None
    return str(row[0])


# ---------------------------------------------------------------------------------------------
# Allow
# ---------------------------------------------------------------------------------------------


def test_granted_purpose_to_a_registered_processor_is_allowed_and_signed(
    organization: Organization,
    recipients: dict[str, Recipient],
    policy_version: PolicyVersion,
    stamp_client: APIClient,
) -> None:
    event_id = record(organization, "cust-1", "marketing-email", policy_version="2025-01")

    result = stamp(stamp_client)

    privacy = assert_allowed(result)
    assert "Sec-GPC" not in result["headers"]
    assert privacy["issuer"] == "acme"
    assert privacy["subject_id"] == "cust-1"
    assert privacy["jurisdiction"] == "DE"
    assert privacy["recipient"] == {"key": "crm", "role": "processor"}
    assert privacy["signals"] == {"gpc": False}
    assert privacy["sources"] == ["web-signup"]
    assert "iab" not in privacy
    [claim] = privacy["purposes"]
    assert claim["purpose"] == "marketing-email"
    assert (claim["permitted"], claim["basis"], claim["status"]) == (True, "explicit_opt_in", "given")
    assert (claim["event_id"], claim["policy_version"], claim["source"]) == (event_id, "2025-01", "web-signup")
    verdict = verify_stamp(
        result["body"],
        result["headers"]["Privacy-Stamp"],
        jwks(stamp_client),
        content_digest_header=result["headers"]["Content-Digest"],
    )
    assert verdict.valid, verdict.reason
    assert verdict.stamp_id == result["stamp_id"]


def test_data_digest_is_the_digest_of_the_data_and_content_digest_that_of_the_canonical_body(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")

    result = stamp(stamp_client)

    privacy = assert_allowed(result)
    assert privacy["data_digest"] == data_digest(DATA)
    assert result["headers"]["Content-Digest"] == content_digest(canonical_json(result["body"]))


def test_opt_out_jurisdiction_allows_a_purpose_nobody_opted_out_of(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    """CCPA: no opt-out on record means permitted for a non-sensitive purpose."""
    result = stamp(stamp_client, subject_id="never-seen", purpose="analytics", jurisdiction="US-CA")

    privacy = assert_allowed(result)
    [claim] = privacy["purposes"]
    assert (claim["permitted"], claim["basis"], claim["status"]) == (True, "no_opt_out_on_record", "unknown")
    assert privacy["jurisdiction"] == "US-CA"


@pytest.mark.parametrize(
    ("subject_id", "jurisdiction", "recipient", "extra"),
    [
        ("cust-1", "DE", "crm", {}),
        ("ca-1", "US-CA", "mailer", {}),
        ("ca-1", "US-CA", "ad-network", {}),
        (
            "cust-1",
            "DE",
            "crm",
            {
                "provenance": {
                    "source": "web-signup",
                    "collected_at": "2026-01-02T03:04:05Z",
                    "collection_method": "web_form",
                }
            },
        ),
    ],
    ids=["eu-processor", "california-legacy-usp", "california-third-party", "with-provenance-claim"],
)
def test_allowed_envelope_validates_against_the_published_schema(
    organization: Organization,
    recipients: dict[str, Recipient],
    stamp_client: APIClient,
    subject_id: str,
    jurisdiction: str,
    recipient: str,
    extra: dict[str, Any],
) -> None:
    record(organization, subject_id, "marketing-email", jurisdiction=jurisdiction)
    response = APIClient().get("/schemas/privacy-stamp-1.json")
    assert response.status_code == 200
    schema = response.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    result = stamp(stamp_client, subject_id=subject_id, recipient=recipient, **extra)

    privacy = assert_allowed(result)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(privacy)]
    assert errors == []
    # The date-time format is asserted here too: jsonschema checks it only with an optional package.
    instants = [privacy["stamped_at"]] + [
        value for claim in privacy["purposes"] for value in (claim["since"], claim["valid_until"]) if value
    ]
    assert all(datetime.fromisoformat(value).tzinfo is not None for value in instants)
    if extra:
        claim = privacy["provenance"]
        assert (claim["source"], claim["collection_method"]) == ("web-signup", "web_form")
        assert datetime.fromisoformat(claim["collected_at"]) == datetime.fromisoformat("2026-01-02T03:04:05+00:00")


# ---------------------------------------------------------------------------------------------
# Block, one reason at a time
# ---------------------------------------------------------------------------------------------


def test_opt_in_jurisdiction_without_any_event_blocks_with_no_consent(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "analytics")  # the subject is known, but not for this purpose

    known = stamp(stamp_client)
    unseen = stamp(stamp_client, subject_id="never-seen", jurisdiction="DE")

    assert_blocked(known, ("marketing-email", StampReason.NO_CONSENT))
    assert_blocked(unseen, ("marketing-email", StampReason.NO_CONSENT))


def test_unseen_subject_without_a_jurisdiction_is_read_under_the_opt_in_fallback(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    result = stamp(stamp_client, subject_id="never-seen", purpose="analytics")

    assert_blocked(result, ("analytics", StampReason.NO_CONSENT))


def test_withdrawal_after_grant_blocks_stamping(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email", occurred_at=timezone.now() - timedelta(hours=2))
    record(organization, "cust-1", "marketing-email", "withdraw")

    result = stamp(stamp_client)

    assert_blocked(result, ("marketing-email", StampReason.CONSENT_WITHDRAWN))


def test_grant_older_than_the_purpose_validity_blocks_with_consent_expired(
    organization: Organization, purposes: dict[str, Purpose], recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    assert purposes["newsletter"].validity == "P30D"
    record(organization, "cust-1", "newsletter", occurred_at=timezone.now() - timedelta(days=40))
    record(organization, "cust-2", "newsletter", occurred_at=timezone.now() - timedelta(days=20))

    lapsed = stamp(stamp_client, purpose="newsletter")
    fresh = stamp(stamp_client, purpose="newsletter", subject_id="cust-2")

    assert_blocked(lapsed, ("newsletter", StampReason.CONSENT_EXPIRED))
    assert assert_allowed(fresh)["purposes"][0]["valid_until"] is not None


def test_material_policy_version_after_the_grant_blocks_with_policy_stale(
    organization: Organization,
    purpose: Purpose,
    policy_version: PolicyVersion,
    recipients: dict[str, Recipient],
    stamp_client: APIClient,
) -> None:
    record(
        organization,
        "cust-1",
        "marketing-email",
        occurred_at=timezone.now() - timedelta(days=10),
        policy_version="2025-01",
    )
    assert stamp(stamp_client)["decision"] == "allow"
    consent_services.policy_version_create(
        purpose=purpose,
        actor="test",
        version="2025-02",
        notice_sha256=NOTICE_SHA256,
        effective_at=timezone.now() - timedelta(days=1),
        is_material=True,
    )

    result = stamp(stamp_client)

    assert_blocked(result, ("marketing-email", StampReason.POLICY_STALE))


@pytest.mark.parametrize("action", ["refuse", "withdraw"])
def test_opt_out_of_a_sale_purpose_blocks_a_third_party_with_sale_share_opted_out(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient, action: str
) -> None:
    record(organization, "ca-1", "ad-sale", occurred_at=timezone.now() - timedelta(hours=2), jurisdiction="US-CA")
    record(organization, "ca-1", "ad-sale", action, jurisdiction="US-CA")

    result = stamp(stamp_client, subject_id="ca-1", purpose="ad-sale", recipient="ad-network")

    assert_blocked(result, ("ad-sale", StampReason.SALE_SHARE_OPTED_OUT))


def test_gpc_blocks_a_third_party_with_sale_share_opted_out_and_sends_no_gpc_header(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    gpc_signal(organization, "ca-1")

    result = stamp(stamp_client, subject_id="ca-1", purpose="ad-sale", recipient="ad-network")

    assert_blocked(result, ("ad-sale", StampReason.SALE_SHARE_OPTED_OUT))
    assert "Sec-GPC" not in result["headers"]


def test_purpose_the_recipient_is_not_registered_for_blocks(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")

    result = stamp(stamp_client, recipient="warehouse")

    assert_blocked(result, ("marketing-email", StampReason.PURPOSE_NOT_REGISTERED))
    assert StampReason.PURPOSE_NOT_REGISTERED == "PURPOSE_NOT_REGISTERED_FOR_RECIPIENT"


def test_one_refused_purpose_blocks_the_item_and_only_that_purpose_is_reported(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")

    result = stamp(stamp_client, purpose=None, purposes=["marketing-email", "analytics"])

    assert_blocked(result, ("analytics", StampReason.NO_CONSENT))


def test_every_reason_has_its_rule_text() -> None:
    reasons = [
        StampReason.NO_CONSENT,
        StampReason.CONSENT_WITHDRAWN,
        StampReason.CONSENT_EXPIRED,
        StampReason.POLICY_STALE,
        StampReason.SALE_SHARE_OPTED_OUT,
        StampReason.PURPOSE_NOT_REGISTERED,
        StampReason.OBJECTED,
    ]

    assert set(enforcement.RULES) == set(reasons)
    assert all(enforcement.RULES[reason].strip() for reason in reasons)
    assert "7(3)" in enforcement.RULES[StampReason.CONSENT_WITHDRAWN]
    assert "1798.120" in enforcement.RULES[StampReason.SALE_SHARE_OPTED_OUT]


# ---------------------------------------------------------------------------------------------
# GPC, IAB strings and restrictions
# ---------------------------------------------------------------------------------------------


def test_allowed_stamp_for_a_gpc_subject_to_a_processor_for_a_non_sale_purpose_carries_sec_gpc(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    gpc_signal(organization, "ca-1")

    result = stamp(stamp_client, subject_id="ca-1", purpose="analytics", recipient="crm")

    privacy = assert_allowed(result)
    assert result["headers"]["Sec-GPC"] == "1"
    assert privacy["signals"] == {"gpc": True}
    assert privacy["restrictions"] == ["no_sale", "no_share", "service_provider_use_only"]
    assert "gpc" not in privacy["sources"]


def test_gpp_is_present_for_a_california_subject(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "ca-1", "analytics", jurisdiction="US-CA")

    result = stamp(stamp_client, subject_id="ca-1", purpose="analytics", recipient="crm")

    iab = assert_allowed(result)["iab"]
    assert isinstance(iab["gpp"], str)
    assert iab["gpp"]
    assert iab["gpp_sid"] == [8]  # the usca section


def test_us_privacy_only_for_a_legacy_usp_recipient_and_a_california_subject(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    assert recipients["mailer"].legacy_usp
    assert not recipients["crm"].legacy_usp
    record(organization, "ca-1", "marketing-email", jurisdiction="US-CA")
    record(organization, "cust-1", "marketing-email", jurisdiction="DE")

    legacy_california = assert_allowed(stamp(stamp_client, subject_id="ca-1", recipient="mailer"))
    modern_california = assert_allowed(stamp(stamp_client, subject_id="ca-1", recipient="crm"))
    legacy_european = assert_allowed(stamp(stamp_client, subject_id="cust-1", recipient="mailer"))

    assert legacy_california["iab"]["us_privacy"] == "1YNN"
    assert legacy_california["iab"]["gpp"]
    assert "us_privacy" not in modern_california["iab"]
    assert modern_california["iab"]["gpp"]
    assert "iab" not in legacy_european


def test_us_privacy_string_says_opted_out_after_gpc(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    gpc_signal(organization, "ca-1")

    privacy = assert_allowed(stamp(stamp_client, subject_id="ca-1", purpose="analytics", recipient="mailer"))

    assert privacy["iab"]["us_privacy"] == "1YYN"


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        ("crm", ["no_sale", "no_share", "service_provider_use_only"]),
        ("mailer", ["no_sale", "no_share", "service_provider_use_only"]),
        ("ad-network", ["no_sale", "no_share"]),
        ("warehouse", ["no_sale", "no_share"]),
    ],
)
def test_restrictions_after_an_opt_out_of_sale_follow_the_data_to_every_recipient(
    organization: Organization,
    recipients: dict[str, Recipient],
    stamp_client: APIClient,
    recipient: str,
    expected: list[str],
) -> None:
    record(organization, "ca-1", "ad-sale", "refuse", jurisdiction="US-CA")

    privacy = assert_allowed(stamp(stamp_client, subject_id="ca-1", purpose="analytics", recipient=recipient))

    assert privacy["restrictions"] == expected
    assert privacy["signals"] == {"gpc": False}


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [("crm", ["service_provider_use_only"]), ("mailer", ["service_provider_use_only"]), ("ad-network", [])],
)
def test_without_opt_outs_only_processors_are_restricted(
    organization: Organization,
    recipients: dict[str, Recipient],
    stamp_client: APIClient,
    recipient: str,
    expected: list[str],
) -> None:
    record(organization, "cust-1", "marketing-email")

    privacy = assert_allowed(stamp(stamp_client, recipient=recipient))

    assert privacy["restrictions"] == expected


# ---------------------------------------------------------------------------------------------
# The stamp log
# ---------------------------------------------------------------------------------------------


def test_every_decision_is_logged_with_the_digest_and_never_the_data(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")

    allowed = stamp(stamp_client)
    blocked = stamp(stamp_client, recipient="warehouse")

    assert StampRecord.objects.count() == 2
    allow_row = StampRecord.objects.get(stamp_id=allowed["stamp_id"])
    block_row = StampRecord.objects.get(stamp_id=blocked["stamp_id"])
    assert (allow_row.decision, allow_row.reasons, allow_row.recipient.key) == ("allow", [], "crm")
    assert allow_row.kid.startswith("pvn-")
    assert block_row.decision == "block"
    assert block_row.reasons == blocked["reasons"]
    assert block_row.kid == ""
    for row in (allow_row, block_row):
        assert row.organization_id == organization.pk
        assert row.data_digest == data_digest(DATA)
        assert row.subject_external_id == "cust-1"
        assert row.subject is not None
        assert row.purposes == ["marketing-email"]
        assert row.jurisdiction == "DE"
        text = stamp_row_text(row.stamp_id)
        assert [value for value in DATA_VALUES if value in text] == []


def test_allowed_record_names_the_signing_key_and_the_facts_it_carried(
    organization: Organization,
    recipients: dict[str, Recipient],
    policy_version: PolicyVersion,
    stamp_client: APIClient,
) -> None:
    record(organization, "cust-1", "marketing-email", policy_version="2025-01")

    result = stamp(stamp_client)

    row = StampRecord.objects.get(stamp_id=result["stamp_id"])
    header = json.loads(base64.urlsafe_b64decode(result["headers"]["Privacy-Stamp"].split(".")[0] + "=="))
    assert row.kid == header["kid"]
    assert (row.has_source, row.has_consent_timestamp, row.has_policy_version) == (True, True, True)


def test_a_stamp_for_an_unseen_subject_is_logged_without_a_subject_row(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    result = stamp(stamp_client, subject_id="never-seen", jurisdiction="DE")

    row = StampRecord.objects.get(stamp_id=result["stamp_id"])
    assert (row.decision, row.subject, row.subject_external_id, row.jurisdiction) == ("block", None, "never-seen", "DE")


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------


def test_batch_returns_allow_block_and_invalid_results_in_request_order(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")
    record(organization, "cust-2", "marketing-email")
    record(organization, "cust-2", "marketing-email", "withdraw")
    items = [
        stamp_body(subject_id="cust-2"),
        stamp_body(recipient="no-such-recipient"),
        stamp_body(),
        stamp_body(purpose="no-such-purpose"),
        stamp_body(recipient="warehouse"),
    ]

    response = stamp_client.post("/api/v1/stamps/batch", {"items": items}, format="json")

    assert response.status_code == 200, response.content[:1000]
    body = response.json()
    results = body["results"]
    assert [(r["index"], r["decision"]) for r in results] == [
        (0, "block"),
        (1, "error"),
        (2, "allow"),
        (3, "error"),
        (4, "block"),
    ]
    assert (body["allowed"], body["blocked"], body["invalid"]) == (1, 2, 2)
    assert_blocked(results[0], ("marketing-email", StampReason.CONSENT_WITHDRAWN))
    assert results[1]["errors"] == [
        {"pointer": "/items/1/recipient", "detail": "unknown recipient 'no-such-recipient'"}
    ]
    assert (results[1]["body"], results[1]["headers"]) == (None, {})
    assert results[3]["errors"] == [{"pointer": "/items/3/purposes", "detail": "unknown purpose 'no-such-purpose'"}]
    assert_blocked(results[4], ("marketing-email", StampReason.PURPOSE_NOT_REGISTERED))
    allowed = results[2]
    assert_allowed(allowed)
    assert verify_stamp(allowed["body"], allowed["headers"]["Privacy-Stamp"], jwks(stamp_client)).valid
    assert len({r["stamp_id"] for r in results}) == len(results)
    logged = set(StampRecord.objects.values_list("stamp_id", "decision"))
    assert logged == {(results[i]["stamp_id"], results[i]["decision"]) for i in (0, 2, 4)}


def test_batch_of_invalid_requests_is_refused_whole_and_logs_nothing(
    recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    response = stamp_client.post("/api/v1/stamps/batch", {"items": []}, format="json")

    assert_problem(response, 422, "validation-error")
    assert StampRecord.objects.count() == 0


def test_single_stamp_with_an_unknown_purpose_is_422_and_logs_nothing(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    response = stamp_client.post("/api/v1/stamps", stamp_body(purpose="no-such-purpose"), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/purposes"}
    assert StampRecord.objects.count() == 0


def test_data_json_cannot_carry_exactly_is_refused_with_422_not_a_server_error(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    """2**53 + 1 is no IEEE 754 double, so it has no RFC 8785 form: the request is invalid (rule 7)."""
    record(organization, "cust-1", "marketing-email")
    stamp_client.raise_request_exception = False

    response = stamp_client.post("/api/v1/stamps", stamp_body(data={"n": 2**53 + 1}), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/data"}
    assert StampRecord.objects.count() == 0


def test_data_json_cannot_carry_exactly_is_an_error_item_in_a_batch(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")
    stamp_client.raise_request_exception = False

    response = stamp_client.post(
        "/api/v1/stamps/batch", {"items": [stamp_body(), stamp_body(data={"n": 2**53 + 1})]}, format="json"
    )

    assert response.status_code == 200, response.content[:500]
    results = response.json()["results"]
    assert [r["decision"] for r in results] == ["allow", "error"]
    assert [error["pointer"] for error in results[1]["errors"]] == ["/items/1/data"]


def test_service_stamps_items_independently_in_order(
    organization: Organization, recipients: dict[str, Recipient]
) -> None:
    record(organization, "cust-1", "marketing-email")
    requests = [
        StampRequest(recipient="crm", purposes=("marketing-email",), subject_id="cust-1", data=DATA),
        StampRequest(recipient="crm", purposes=("analytics",), subject_id="cust-1", data=DATA),
        StampRequest(recipient="nobody", purposes=("analytics",), subject_id="cust-1", data=DATA, pointer="/x"),
    ]

    results = stamp_many(organization=organization, requests=requests)

    assert [r.decision for r in results] == ["allow", "block", "error"]
    assert results[1].reasons == [
        {"purpose": "analytics", "reason": "NO_CONSENT", "rule": enforcement.RULES[StampReason.NO_CONSENT]}
    ]
    assert results[2].error == {
        "type": "validation-error",
        "errors": [{"pointer": "/x/recipient", "detail": "unknown recipient 'nobody'"}],
    }


MIXED = [
    ("cust-1", "crm", "marketing-email"),
    ("cust-2", "crm", "marketing-email"),
    ("cust-1", "warehouse", "marketing-email"),
    ("cust-1", "nobody", "marketing-email"),
    ("ca-1", "ad-network", "ad-sale"),
    ("ca-1", "crm", "analytics"),
    ("never-seen", "crm", "analytics"),
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(MIXED))))
def test_each_item_is_decided_the_same_whatever_its_place_in_the_batch(
    organization: Organization, recipients: dict[str, Recipient], order: list[int]
) -> None:
    if not StampRecord.objects.exists():  # the ledger facts, once per test (examples share the database)
        record(organization, "cust-1", "marketing-email")
        record(organization, "cust-2", "marketing-email", occurred_at=timezone.now() - timedelta(hours=2))
        record(organization, "cust-2", "marketing-email", "withdraw")
        gpc_signal(organization, "ca-1")
    requests = [
        StampRequest(recipient=recipient, purposes=(purpose,), subject_id=subject, data=DATA, pointer=f"/items/{i}")
        for i, (subject, recipient, purpose) in enumerate(MIXED)
    ]

    def outcome(result: Any) -> tuple[str, list[Any], bool]:
        return result.decision, result.reasons, "Sec-GPC" in result.headers

    in_order = [outcome(r) for r in stamp_many(organization=organization, requests=requests)]
    shuffled = stamp_many(organization=organization, requests=[requests[i] for i in order])

    assert [outcome(r) for r in shuffled] == [in_order[i] for i in order]
    assert [d for d, _, _ in in_order] == ["allow", "block", "block", "error", "block", "allow", "block"]


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------


def test_changed_data_fails_with_data_digest_mismatch(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")
    result = stamp(stamp_client)
    tampered = json.loads(json.dumps(result["body"]))
    tampered["data"]["email"] = "mallory@example.test"

    local = verify_stamp(tampered, result["headers"]["Privacy-Stamp"], jwks(stamp_client))
    remote = verify_api(stamp_client, result, body=tampered)

    assert (local.valid, local.reason) == (False, Reason.DATA_DIGEST_MISMATCH)
    assert (remote["valid"], remote["reason"], remote["consent_still_holds"]) == (False, "DATA_DIGEST_MISMATCH", None)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda privacy: privacy["recipient"].update(role="controller"),
        lambda privacy: privacy.update(restrictions=[]),
        lambda privacy: privacy["signals"].update(gpc=True),
        lambda privacy: privacy["purposes"][0].update(basis="no_opt_out_on_record"),
        lambda privacy: privacy.update(subject_id="cust-2"),
    ],
    ids=["role", "restrictions", "gpc", "basis", "subject"],
)
def test_changed_envelope_fails_with_envelope_changed(
    organization: Organization,
    recipients: dict[str, Recipient],
    stamp_client: APIClient,
    tamper: Callable[[dict[str, Any]], None],
) -> None:
    record(organization, "cust-1", "marketing-email")
    result = stamp(stamp_client)
    tampered = json.loads(json.dumps(result["body"]))
    tamper(tampered["privacy"])

    local = verify_stamp(tampered, result["headers"]["Privacy-Stamp"], jwks(stamp_client))
    response = stamp_client.post(
        "/api/v1/stamps/verify",
        {"body": tampered, "privacy_stamp": result["headers"]["Privacy-Stamp"]},
        format="json",
    )

    assert (local.valid, local.reason) == (False, Reason.ENVELOPE_CHANGED)
    assert response.status_code == 200
    assert (response.json()["valid"], response.json()["reason"]) == (False, "ENVELOPE_CHANGED")


def test_key_missing_from_the_jwks_fails_with_unknown_key(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")
    result = stamp(stamp_client)
    stranger = Ed25519PrivateKey.generate()
    other_jwks = {"keys": [public_jwk(stranger.public_key(), "pvn-somebody-else")]}

    verdict = verify_stamp(result["body"], result["headers"]["Privacy-Stamp"], other_jwks)

    assert (verdict.valid, verdict.reason, verdict.stamp_id) == (False, Reason.UNKNOWN_KEY, result["stamp_id"])


def test_verify_endpoint_reports_a_stamp_signed_by_a_key_it_never_published_as_unknown_key(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")
    result = stamp(stamp_client)
    forged = sign_stamp(result["body"], Ed25519PrivateKey.generate(), "pvn-forger")

    response = stamp_client.post(
        "/api/v1/stamps/verify", {"body": result["body"], "privacy_stamp": forged}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {
        "valid": False,
        "reason": "UNKNOWN_KEY",
        "kid": "pvn-forger",
        "stamp_id": result["stamp_id"],
        "consent_still_holds": None,
        "purposes_now": None,
    }


def test_verify_endpoint_reports_that_consent_no_longer_holds_after_a_withdrawal(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email", occurred_at=timezone.now() - timedelta(hours=2))
    result = stamp(stamp_client)
    before = verify_api(stamp_client, result)

    record(organization, "cust-1", "marketing-email", "withdraw")
    after = verify_api(stamp_client, result)

    assert (before["valid"], before["consent_still_holds"]) == (True, True)
    assert before["purposes_now"] == [{"purpose": "marketing-email", "permitted": True, "basis": "explicit_opt_in"}]
    assert (after["valid"], after["reason"], after["stamp_id"]) == (True, None, result["stamp_id"])
    assert after["consent_still_holds"] is False
    assert after["purposes_now"] == [{"purpose": "marketing-email", "permitted": False, "basis": "withdrawn"}]


def test_wrong_content_digest_header_fails_verification(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")
    result = stamp(stamp_client)

    verdict = verify_stamp(
        result["body"],
        result["headers"]["Privacy-Stamp"],
        jwks(stamp_client),
        content_digest_header=content_digest(b"something else"),
    )

    assert (verdict.valid, verdict.reason) == (False, Reason.DATA_DIGEST_MISMATCH)


# ---------------------------------------------------------------------------------------------
# Scoping: every stamp endpoint sees only the caller's organization
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def other_stamp_client(other_organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    consent_services.purpose_create(
        organization=other_organization, actor="test", key="marketing-email", name="Marketing email"
    )
    return api_client_for(other_organization, "stamp")


def test_another_organizations_recipient_is_unknown_to_a_single_stamp(
    organization: Organization, recipients: dict[str, Recipient], other_stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")

    response = other_stamp_client.post("/api/v1/stamps", stamp_body(), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert body["errors"] == [{"pointer": "/recipient", "detail": "unknown recipient 'crm'"}]
    assert StampRecord.objects.count() == 0


def test_another_organizations_recipient_is_an_error_item_in_a_batch(
    organization: Organization, recipients: dict[str, Recipient], other_stamp_client: APIClient
) -> None:
    record(organization, "cust-1", "marketing-email")

    response = other_stamp_client.post("/api/v1/stamps/batch", {"items": [stamp_body()]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["allowed"], body["blocked"], body["invalid"]) == (0, 0, 1)
    [item] = body["results"]
    assert item["decision"] == "error"
    assert item["errors"] == [{"pointer": "/items/0/recipient", "detail": "unknown recipient 'crm'"}]
    assert StampRecord.objects.count() == 0


def test_consent_is_read_from_the_callers_organization_only(
    organization: Organization,
    other_organization: Organization,
    recipients: dict[str, Recipient],
    other_stamp_client: APIClient,
) -> None:
    """Both organizations know a 'crm' and a 'cust-1'; only the first has her consent."""
    record(organization, "cust-1", "marketing-email")
    recipient_create(
        organization=other_organization,
        actor="test",
        key="crm",
        name="CRM",
        role="processor",
        purposes=["marketing-email"],
    )

    result = stamp(other_stamp_client)

    assert_blocked(result, ("marketing-email", StampReason.NO_CONSENT))
    row = StampRecord.objects.get(stamp_id=result["stamp_id"])
    assert row.organization_id == other_organization.pk
    assert row.recipient.organization_id == other_organization.pk


def test_verify_reads_consent_in_the_callers_organization(
    organization: Organization, recipients: dict[str, Recipient], stamp_client: APIClient, other_stamp_client: APIClient
) -> None:
    """#11 item 8: another organization's stamp is refused outright (it used to verify and then read the
    caller's unrelated subject of the same id); see tests/provenance/test_tenant_keys.py."""
    record(organization, "cust-1", "marketing-email")
    result = stamp(stamp_client)

    own = verify_api(stamp_client, result)
    other = verify_api(other_stamp_client, result)

    assert (own["valid"], own["consent_still_holds"]) == (True, True)
    assert (other["valid"], other["reason"], other["consent_still_holds"]) == (False, "ISSUER_MISMATCH", None)
    assert other["purposes_now"] is None


def test_stamp_endpoints_refuse_a_key_without_the_stamp_scope(
    organization: Organization,
    recipients: dict[str, Recipient],
    provenance_client: APIClient,
) -> None:
    record(organization, "cust-1", "marketing-email")

    single = provenance_client.post("/api/v1/stamps", stamp_body(), format="json")
    batch = provenance_client.post("/api/v1/stamps/batch", {"items": [stamp_body()]}, format="json")

    for response in (single, batch):
        assert assert_problem(response, 403, "insufficient-scope")["required_scope"] == "stamp"
    assert StampRecord.objects.count() == 0


# --------------------------------------------------------------------------------------------
# Purposes resting on a lawful basis other than consent (GDPR Art. 6(1)(b)-(f))
# --------------------------------------------------------------------------------------------


def test_a_purpose_resting_on_a_contract_is_stamped_without_any_consent(
    organization: Organization, purposes: dict[str, Purpose], recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    consent_services.purpose_update(purpose=purposes["analytics"], actor="test", legal_basis="contract")

    result = stamp(stamp_client, subject_id="never-seen", jurisdiction="DE", purpose="analytics")

    assert_allowed(result)


def test_an_objection_blocks_a_purpose_resting_on_legitimate_interest(
    organization: Organization, purposes: dict[str, Purpose], recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    consent_services.purpose_update(purpose=purposes["analytics"], actor="test", legal_basis="legitimate_interest")
    before = stamp(stamp_client, purpose="analytics")
    record(organization, "cust-1", "analytics", "withdraw")

    after = stamp(stamp_client, purpose="analytics")

    assert_allowed(before)
    assert_blocked(after, ("analytics", StampReason.OBJECTED))
    assert "Art. 21" in enforcement.RULES[StampReason.OBJECTED]


def test_a_us_opt_out_blocks_even_a_contract_purpose_but_a_gdpr_withdrawal_does_not(
    organization: Organization, purposes: dict[str, Purpose], recipients: dict[str, Recipient], stamp_client: APIClient
) -> None:
    consent_services.purpose_update(purpose=purposes["analytics"], actor="test", legal_basis="contract")
    record(organization, "us-person", "analytics", "withdraw", jurisdiction="US-CA")
    record(organization, "eu-person", "analytics", "withdraw", jurisdiction="DE")

    us = stamp(stamp_client, subject_id="us-person", purpose="analytics")
    eu = stamp(stamp_client, subject_id="eu-person", purpose="analytics")

    assert_blocked(us, ("analytics", StampReason.CONSENT_WITHDRAWN))
    assert_allowed(eu)


def test_consent_state_names_the_lawful_basis_that_permits(
    organization: Organization,
    purposes: dict[str, Purpose],
    recipients: dict[str, Recipient],
    api_client_for: Callable[..., APIClient],
) -> None:
    consent_services.purpose_update(purpose=purposes["analytics"], actor="test", legal_basis="legal_obligation")
    record(organization, "cust-1", "marketing-email")

    state = api_client_for(organization, "consent:read").get("/api/v1/subjects/cust-1/consent?purpose=analytics")

    assert state.status_code == 200, state.content[:300]
    (analytics,) = [p for p in state.json()["purposes"] if p["purpose"] == "analytics"]
    assert (analytics["permitted"], analytics["basis"]) == (True, "legal_obligation")
