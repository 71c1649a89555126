"""An evidence pack as a PDF: the pack rendered for print, the compact JWS printed on its last page and attached (as
``evidence-pack.jws``), so the PDF's content is backed by a signature anyone checks with the JWKS; each document kept
as evidence (a letter) is attached too."""

from __future__ import annotations

import base64
from typing import Any

from django.template.loader import render_to_string

from provenance.evidence import EVIDENCE_PACK_JWS_TYPE, PDF_ATTACHMENT_NAME


def evidence_pack_pdf(pack: dict[str, Any], *, jws: str, kid: str) -> bytes:
    """A4 PDF by WeasyPrint; the HTML references no outside resource."""
    # Imported here: WeasyPrint loads Pango through cffi, which only the PDF needs.
    from weasyprint import HTML, Attachment
    from weasyprint.urls import URLFetcher

    html = render_to_string(
        "provenance/evidence_pack.html",
        {
            "pack": pack,
            "jws": jws,
            "kid": kid,
            "jws_type": EVIDENCE_PACK_JWS_TYPE,
            "attachment_name": PDF_ATTACHMENT_NAME,
        },
    )
    attachments = [
        Attachment(
            string=jws.encode("ascii"),
            name=PDF_ATTACHMENT_NAME,
            description="The evidence pack as a compact JWS (EdDSA); its payload is the pack's canonical JSON",
        )
    ]
    for event in pack.get("events") or []:
        document = (event.get("evidence") or {}).get("document")
        if document and document.get("content_base64"):
            attachments.append(
                Attachment(
                    string=base64.b64decode(document["content_base64"]),
                    name=f"{event['event_id']}-{document['filename']}",
                    description=f"Evidence of event {event['event_id']} (SHA-256 {document['sha256']})",
                )
            )
    # data: URLs only: a pack never makes the server read a file or call a host.
    fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=True)
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf(attachments=attachments)
    return pdf
