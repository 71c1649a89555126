"""The cover letter of an access/portability export: what GDPR Art. 15(1)-(2) requires beside the data, built only
from what the catalog and the ledger hold, as a readable letter (cover_letter.txt) and the same content as JSON
(cover_letter.json). Where the catalog records nothing (retention, automated decisions, third-country transfers)
the letter says so instead of guessing. Pure: the caller reads the facts."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

NOT_RECORDED: Final = "not recorded in our catalog"
# Source kinds where the person gave the data themselves (GDPR Art. 15(1)(g) asks for the source otherwise).
FROM_THE_PERSON: Final = frozenset({"web_form", "mobile_app", "offline", "privacy_center"})

RIGHTS: Final = (
    ("rectification", "GDPR Art. 16", "Ask us to correct data about you that is wrong or incomplete."),
    ("erasure", "GDPR Art. 17", "Ask us to erase data about you."),
    ("restriction", "GDPR Art. 18", "Ask us to restrict the processing of data about you."),
    ("objection", "GDPR Art. 21", "Object to processing based on legitimate interests or for direct marketing."),
    ("portability", "GDPR Art. 20", "Receive data you gave us in a machine-readable format (this archive's CSV/JSON)."),
    (
        "withdraw_consent",
        "GDPR Art. 7(3)",
        "Withdraw a consent at any time; processing before the withdrawal stays lawful.",
    ),
    ("complaint", "GDPR Art. 77", "Lodge a complaint with a supervisory authority."),
)


@dataclass(frozen=True)
class PurposeFacts:
    key: str
    name: str
    description: str
    legal_basis: str
    legal_basis_label: str
    notice_version: str = ""
    notice_url: str = ""
    consent_validity: str = ""
    in_your_records: bool = True
    retention: str = ""  # the purpose's retention period or criteria, as the catalog states it
    recipient_categories: tuple[str, ...] = ()  # categories of recipients the catalog declares for the purpose


@dataclass(frozen=True)
class RecipientFacts:
    key: str
    name: str
    role: str
    role_label: str
    purposes: Sequence[str]
    data_categories: Sequence[str]
    received_your_data: bool


@dataclass(frozen=True)
class SourceFacts:
    key: str
    name: str
    kind: str
    vendor_name: str = ""
    collection_point: str = ""


@dataclass(frozen=True)
class CoverLetterFacts:
    organization_name: str
    request_id: str
    request_type: str
    generated_at: datetime
    purposes: Sequence[PurposeFacts] = ()
    recipients: Sequence[RecipientFacts] = ()
    sources: Sequence[SourceFacts] = ()
    connectors: Sequence[str] = ()
    held_categories: Sequence[str] = ()
    export_retention_days: int | None = None
    notes: Sequence[str] = field(default_factory=tuple)


def cover_letter_document(facts: CoverLetterFacts) -> dict[str, Any]:
    """The machine-readable cover letter (cover_letter.json); the text letter renders exactly this."""
    categories = [
        {"category": name, "where": "held by Provenant for " + facts.organization_name}
        for name in facts.held_categories
    ]
    for recipient in facts.recipients:
        for category in recipient.data_categories:
            categories.append({"category": category, "where": f"declared for recipient {recipient.name}"})
    without_retention = [p.key for p in facts.purposes if not p.retention]
    missing = [
        *(["retention period or criteria of: " + ", ".join(without_retention)] if without_retention else []),
        "automated decision-making, including profiling (GDPR Art. 22)",
        "transfers to third countries and their safeguards (GDPR Art. 46)",
    ]
    if not facts.recipients and not any(p.recipient_categories for p in facts.purposes):
        missing.append("recipients")
    return {
        "organization": facts.organization_name,
        "request_id": facts.request_id,
        "request_type": facts.request_type,
        "generated_at": facts.generated_at.isoformat(),
        "legal_basis_of_this_letter": "GDPR Art. 15(1)-(2)",
        "purposes": [
            {
                "key": p.key,
                "name": p.name,
                "description": p.description,
                "legal_basis": p.legal_basis,
                "legal_basis_label": p.legal_basis_label,
                "notice_version": p.notice_version or None,
                "notice_url": p.notice_url or None,
                "consent_validity": p.consent_validity or None,
                "in_your_records": p.in_your_records,
                "retention": p.retention or None,
                "retention_note": None if p.retention else NOT_RECORDED,
                "recipient_categories": list(p.recipient_categories),
            }
            for p in facts.purposes
        ],
        "categories_of_personal_data": categories,
        "recipients": [
            {
                "key": r.key,
                "name": r.name,
                "role": r.role,
                "role_label": r.role_label,
                "purposes": list(r.purposes),
                "data_categories": list(r.data_categories),
                "received_your_data": r.received_your_data,
            }
            for r in facts.recipients
        ],
        "retention": {
            "per_purpose": {p.key: p.retention for p in facts.purposes if p.retention} or None,
            "note": NOT_RECORDED if without_retention else None,
            "this_archive_deleted_after_days": facts.export_retention_days,
        },
        "sources": [
            {
                "key": s.key,
                "name": s.name,
                "kind": s.kind,
                "collected_from_you": s.kind in FROM_THE_PERSON,
                "vendor_name": s.vendor_name or None,
                "collection_point": s.collection_point or None,
            }
            for s in facts.sources
        ],
        "other_systems_that_answered": list(facts.connectors),
        "rights": [{"right": name, "article": article, "what": what} for name, article, what in RIGHTS],
        "automated_decision_making": {"recorded": False, "note": NOT_RECORDED},
        "third_country_transfers": {"recorded": False, "safeguards": None, "note": NOT_RECORDED},
        "not_recorded": missing,
        "notes": list(facts.notes),
    }


def _wrap(text: str, indent: str = "") -> str:
    """A list item (``indent`` given: its continuation lines hang under the text) or a paragraph."""
    hang = indent + "  " if indent else ""
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=hang)


def cover_letter_text(document: dict[str, Any]) -> str:
    """The readable letter (cover_letter.txt) of ``cover_letter_document``'s result."""
    org = document["organization"]
    lines = [
        f"Your data held by {org}",
        f"Request {document['request_id']} ({document['request_type']}), prepared {document['generated_at']}",
        "",
        _wrap(
            "This archive holds a copy of the personal data we hold about you, as JSON and CSV files "
            "(manifest.json lists them). This letter gives what GDPR Art. 15(1)-(2) requires beside the data. "
            f"Where our catalog does not record something, we say so: ask {org} for it.",
        ),
        "",
        "1. Purposes of the processing and their legal basis (Art. 15(1)(a))",
    ]
    if not document["purposes"]:
        lines.append("   No purpose is recorded for your data in our catalog.")
    for p in document["purposes"]:
        head = f"- {p['name']} ({p['key']}): {p['legal_basis_label']}"
        if not p["in_your_records"]:
            head += "; applies without a consent record"
        lines.append(_wrap(head, "   "))
        if p["description"]:
            lines.append(_wrap(p["description"], "     "))
        if p["notice_version"]:
            notice = f"Notice version {p['notice_version']}" + (f": {p['notice_url']}" if p["notice_url"] else "")
            lines.append(_wrap(notice, "     "))
        if p["consent_validity"]:
            lines.append(_wrap(f"A consent lapses after {p['consent_validity']} (ISO 8601 duration).", "     "))
    lines += ["", "2. Categories of personal data (Art. 15(1)(b))"]
    for c in document["categories_of_personal_data"] or [{"category": "none recorded", "where": ""}]:
        lines.append(_wrap(f"- {c['category']}" + (f" ({c['where']})" if c["where"] else ""), "   "))
    lines += ["", "3. Recipients or categories of recipients (Art. 15(1)(c))"]
    categories_of_recipients = sorted({c for p in document["purposes"] for c in p["recipient_categories"]})
    if categories_of_recipients:
        lines.append(_wrap(f"- Categories of recipients: {', '.join(categories_of_recipients)}", "   "))
    if not document["recipients"] and not categories_of_recipients:
        lines.append(f"   No recipient is {NOT_RECORDED}.")
    for r in document["recipients"]:
        text = f"- {r['name']}: {r['role_label']}; purposes {', '.join(r['purposes']) or 'none recorded'}"
        text += "; received data about you" if r["received_your_data"] else ""
        lines.append(_wrap(text, "   "))
    retention = document["retention"]
    lines += [
        "",
        "4. How long the data is kept (Art. 15(1)(d))",
    ]
    for p in document["purposes"]:
        lines.append(_wrap(f"- {p['name']}: {p['retention'] or NOT_RECORDED}", "   "))
    if retention["this_archive_deleted_after_days"] is not None:
        lines.append(
            _wrap(
                f"This archive is deleted {retention['this_archive_deleted_after_days']} days after it was made.", "   "
            )
        )
    lines += ["", "5. Where the data came from (Art. 15(1)(g))"]
    for s in document["sources"] or []:
        origin = "collected from you" if s["collected_from_you"] else "not collected from you"
        extra = ", ".join(filter(None, [s["vendor_name"], s["collection_point"]]))
        lines.append(_wrap(f"- {s['name']} ({s['kind']}, {origin})" + (f": {extra}" if extra else ""), "   "))
    if not document["sources"]:
        lines.append("   No source is recorded for your data.")
    for key in document["other_systems_that_answered"]:
        lines.append(_wrap(f"- the system {key} (its answer is in connectors/{key}.json)", "   "))
    lines += ["", "6. Your rights (Art. 15(1)(e)-(f))"]
    for right in document["rights"]:
        lines.append(_wrap(f"- {right['what']} ({right['article']})", "   "))
    lines += [
        "",
        "7. Automated decision-making, including profiling (Art. 15(1)(h))",
        _wrap(f"{NOT_RECORDED[0].upper()}{NOT_RECORDED[1:]}.", "   "),
        "",
        "8. Transfers to third countries and their safeguards (Art. 15(2))",
        _wrap(f"{NOT_RECORDED[0].upper()}{NOT_RECORDED[1:]}.", "   "),
        "",
        _wrap("Not recorded in our catalog: " + "; ".join(document["not_recorded"]) + "."),
        "",
        "The same content is in cover_letter.json.",
    ]
    return "\n".join(lines) + "\n"
