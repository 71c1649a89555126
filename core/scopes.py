"""API key scopes. Later features add theirs here; the admin and the commands list them."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "consent:read": "Read consent state, history, sources, purposes and ledger verification",
    "consent:write": "Record consent events; manage sources, purposes and policy versions",
    "provenance:read": "Read recipients, stamp records, deliveries and provenance alerts",
    "provenance:write": "Manage recipients; acknowledge consent notices",
    "evidence:read": "Produce evidence packs: consent history with its evidence decrypted (each pack audited)",
    "stamp": "Stamp payloads and verify stamps",
    "deliver": "Have Provenant deliver stamped payloads to recipients",
    "dsar:read": "Read data-subject requests and compute DSAR deadlines",
    "dsar:write": "Record data-subject requests",
    "dsar:configure": "Change the organization's DSAR deadline calendar and time zone, and its legal contacts",
    "reports:read": "Read compliance report figures",
    "audit:read": "Read the organization's audit log (for auditors)",
}

# Scopes that let a key change something, and evidence:read, which decrypts every subject's evidence (IP addresses,
# user agents, letters). Issuing a key that holds one needs the staff permission core.issue_write_scopes (the key
# administrator role); the other read scopes need only core.add_apikey.
WRITE_SCOPES: frozenset[str] = frozenset(
    {"consent:write", "provenance:write", "stamp", "deliver", "dsar:write", "dsar:configure", "evidence:read"}
)


def unknown_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]
