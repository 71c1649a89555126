"""A working example for every API operation that takes a body (issue #15), so "Try it out" on /api/docs/
sends something the API accepts. The values name the demo organization's catalog (``manage.py seed_demo``:
sources web-signup and mobile-app, purposes marketing-email, analytics and ad-targeting, recipients crm and
ad-network, subjects demo-alice and demo-bob), so with the demo key they succeed as they stand.

Added to the schema by a drf-spectacular postprocessing hook; an operation with a body and no example here is
reported as a schema warning, which ``spectacular --fail-on-warn`` (CI) refuses.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.drainage import warn

EVENT: dict[str, Any] = {
    "subject_id": "demo-carol",
    "subject_email": "carol@example.com",
    "purpose": "marketing-email",
    "action": "grant",
    "occurred_at": "2026-01-15T09:30:00Z",
    "source": "web-signup",
    "collection_method": "web_form",
    "jurisdiction": "DE",
    "explicit_confirmation": True,
    "evidence": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
}
STAMP: dict[str, Any] = {
    "recipient": "crm",
    "purpose": "marketing-email",
    "subject_id": "demo-alice",
    "data": {"email": "alice@example.com", "first_name": "Alice"},
    "jurisdiction": "DE",
}
SOURCE: dict[str, Any] = {
    "key": "web-signup",
    "name": "Website signup form",
    "kind": "web_form",
    "collection_point": "https://demo.example/signup",
    "lawful_basis": "consent",
    "is_active": True,
}
PURPOSE: dict[str, Any] = {
    "key": "analytics",
    "name": "Product analytics",
    "description": "Measuring how the product is used.",
    "legal_basis": "consent",
    "dpv_purpose_iri": "https://w3id.org/dpv#ServiceOptimisation",
    "is_sale_or_sharing": False,
    "is_targeted_advertising": False,
    "is_sensitive": False,
}
RECIPIENT: dict[str, Any] = {
    "key": "crm",
    "name": "CRM",
    "role": "processor",
    "purposes": ["marketing-email", "analytics"],
    "data_categories": ["contact"],
    "endpoint_url": "https://crm.demo.example/provenant/inbound",
    "is_active": True,
}
LEGAL_CONTACT: dict[str, Any] = {"email": "dpo@demo.example", "name": "Data protection officer", "receives": "both"}

TODAY = "{today}"  # replaced by the date the schema is generated: a notice can't predate the request

# (method, path) -> (summary, body)
EXAMPLES: dict[tuple[str, str], tuple[str, Any]] = {
    ("post", "/api/v1/consent-events"): ("Carol opts in to marketing email on the signup form", EVENT),
    ("post", "/api/v1/consent-events/bulk"): (
        "Two events in one call",
        {"events": [EVENT, {**EVENT, "purpose": "analytics", "idempotency_key": "docs-carol-analytics"}]},
    ),
    ("post", "/api/v1/deadlines/compute"): (
        "A GDPR access request received in Dublin",
        {
            "regime": "gdpr",
            "request_type": "access",
            "received_at": "2026-03-02T10:00:00Z",
            "tz": "Europe/Dublin",
            "calendar": "IE",
        },
    ),
    ("put", "/api/v1/deadlines/settings"): ("An Irish controller", {"calendar": "IE", "time_zone": "Europe/Dublin"}),
    ("post", "/api/v1/deliveries"): (
        "Send Alice's contact details to the CRM (its endpoint_url set first: PUT /api/v1/recipients/crm)",
        STAMP,
    ),
    ("post", "/api/v1/dsar"): (
        "An access request filed through the API",
        {
            "type": "access",
            "channel": "api",
            "jurisdiction": "DE",
            "subject_id": "demo-alice",
            "requester": {"email": "alice@example.com", "name": "Alice Example"},
            "language": "en",
        },
    ),
    ("post", "/api/v1/dsar/{request_id}/extend"): (
        "Extend a complex request (notice sent today or earlier)",
        {"reason_code": "complexity", "notice_sent_on": TODAY},
    ),
    ("post", "/api/v1/dsar/{request_id}/fulfil"): ("Start fulfilment", {}),
    ("post", "/api/v1/dsar/{request_id}/transitions"): (
        "Reject a request, with the reason the requester is told",
        {"to_status": "rejected", "reason": "The requester withdrew the request by phone."},
    ),
    ("post", "/api/v1/dsar/{request_id}/verify"): (
        "Identity checked by hand",
        {"note": "Identity confirmed against the customer account by phone.", "method": "manual"},
    ),
    ("post", "/api/v1/imports"): (
        "Import Carol's and Dave's history from a CSV export (README: 'Importing consent history')",
        "subject_id,purpose,action,occurred_at,source,collection_method,jurisdiction\n"
        "demo-carol,marketing-email,grant,2025-03-01T10:00:00Z,web-signup,web_form,DE\n"
        "demo-dave,analytics,grant,2025-03-02T11:30:00Z,mobile-app,mobile_app,FR\n",
    ),
    ("post", "/api/v1/ledger/verifications"): ("Verify what was added since the last run", {"mode": "incremental"}),
    ("post", "/api/v1/legal-contacts"): ("The DPO receives digests and escalations", LEGAL_CONTACT),
    ("put", "/api/v1/legal-contacts/{contact_id}"): ("Replace a contact", LEGAL_CONTACT),
    ("patch", "/api/v1/legal-contacts/{contact_id}"): ("Escalations only", {"receives": "escalation"}),
    ("post", "/api/v1/provenance/validate"): (
        "Check data received with its provenance claims",
        {
            "subject_id": "demo-alice",
            "purposes": ["marketing-email"],
            "source": "web-signup",
            "consent_timestamp": "2026-01-15T09:30:00Z",
            "opt_in": True,
            "jurisdiction": "DE",
        },
    ),
    ("post", "/api/v1/purposes"): (
        "A purpose for product surveys",
        {**PURPOSE, "key": "surveys", "name": "Product surveys", "description": "Asking users about the product."},
    ),
    ("put", "/api/v1/purposes/{key}"): ("Replace the analytics purpose", PURPOSE),
    ("patch", "/api/v1/purposes/{key}"): ("Change the description", {"description": "How the product is used."}),
    ("post", "/api/v1/purposes/{key}/policy-versions"): (
        "A new notice for the purpose",
        {
            "version": "2026-01",
            "notice_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "notice_url": "https://demo.example/privacy/2026-01",
            "effective_at": "2026-01-15T00:00:00Z",
            "is_material": False,
        },
    ),
    ("post", "/api/v1/recipients"): (
        "A warehouse for analytics",
        {"key": "warehouse", "name": "Data warehouse", "role": "controller", "purposes": ["analytics"]},
    ),
    ("put", "/api/v1/recipients/{key}"): ("Replace the CRM", RECIPIENT),
    ("patch", "/api/v1/recipients/{key}"): ("Change what is sent", {"data_categories": ["contact", "preferences"]}),
    ("post", "/api/v1/signals"): (
        "A GPC signal from a Californian visitor",
        {"subject_id": "demo-bob", "gpc": True, "jurisdiction": "US-CA", "occurred_at": "2026-01-15T09:30:00Z"},
    ),
    ("post", "/api/v1/sources"): (
        "A paper form at events",
        {"key": "event-forms", "name": "Paper forms at events", "kind": "offline", "lawful_basis": "consent"},
    ),
    ("put", "/api/v1/sources/{key}"): ("Replace the signup form", SOURCE),
    ("patch", "/api/v1/sources/{key}"): ("Where it is collected", {"collection_point": "https://demo.example/join"}),
    ("post", "/api/v1/stamps"): ("May Alice's contact details go to the CRM?", STAMP),
    ("post", "/api/v1/stamps/batch"): (
        "Two subjects at once",
        {"items": [STAMP, {**STAMP, "subject_id": "demo-bob", "data": {"email": "bob@example.com"}}]},
    ),
    ("post", "/api/v1/stamps/verify"): (
        "Check a stamp you received (paste the body and the Privacy-Stamp header of a stamp)",
        {
            "body": {"email": "alice@example.com", "first_name": "Alice"},
            "privacy_stamp": "eyJhbGciOiJFZERTQSJ9..c2lnbmF0dXJl",
            "expected_recipient": "crm",
            "max_age": 86400,
        },
    ),
    ("post", "/api/v1/subjects/{subject_id}/links"): ("Alice and her second account", {"subject_id": "demo-bob"}),
}

# Path parameters as "Try it out" pre-fills them: the demo catalog's keys and subjects.
PATH_PARAMETER_EXAMPLES: dict[str, str] = {
    "subject_id": "demo-alice",
    "key": "marketing-email",
    "issuer": "demo",
}
PATH_PARAMETER_BY_PATH: dict[str, dict[str, str]] = {
    "/api/v1/sources/{key}": {"key": "web-signup"},
    "/api/v1/recipients/{key}": {"key": "crm"},
    "/api/v1/purposes/{key}": {"key": "analytics"},
    "/api/v1/purposes/{key}/policy-versions": {"key": "analytics"},
}


def add_examples(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the examples above onto the request bodies and path parameters."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and "example" not in parameter:
                    value = PATH_PARAMETER_BY_PATH.get(path, {}).get(parameter["name"])
                    value = value or PATH_PARAMETER_EXAMPLES.get(parameter["name"])
                    if value:
                        parameter["example"] = value
            body = operation.get("requestBody")
            if not body:
                continue
            example = EXAMPLES.get((method, path))
            if example is None:
                warn(f"{method.upper()} {path} has a request body and no example in config/api_examples.py")
                continue
            summary, value = example
            value = _dated(value, timezone.localdate().isoformat())
            for media in body.get("content", {}).values():
                media.setdefault("examples", {"demo": {"summary": summary, "value": value}})
    return result


def _dated(value: Any, today: str) -> Any:
    if value == TODAY:
        return today
    if isinstance(value, dict):
        return {name: _dated(item, today) for name, item in value.items()}
    if isinstance(value, list):
        return [_dated(item, today) for item in value]
    return value
