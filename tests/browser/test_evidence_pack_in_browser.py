"""One-click proof in a real browser (Debian's Chromium, headless) against a live server on 127.0.0.1 (issue #14):
privacy counsel records a withdrawal received by letter on the subject page (uploading the scan), then produces the
subject's evidence pack from the "Evidence pack" button, as PDF and as JSON. The signature is checked independently of
Provenant's code: the JWKS is fetched from the live server and the JWS verified with ``cryptography`` directly; the
PDF prints the same JWS it carries as its attachment, and the pack shows the letter.

Screenshots go to tests/artifacts/evidence-pack/."""

from __future__ import annotations

import base64
import io
import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from consent import services as consent_services
from consent.enums import SourceKind
from core.models import AuditLogEntry, Organization
from core.services import organization_create
from core.staff_roles import PRIVACY_COUNSEL
from provenance.services import keys
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from tests.conftest import event_input

pytestmark = pytest.mark.browser

LETTER = b"%PDF-1.4\n% Dear Acme, please stop emailing me. Ada\n"
T = TypeVar("T")


def in_thread(read: Callable[[], T]) -> T:
    """Run database code outside Playwright's event loop (Django refuses database calls inside one)."""

    def run() -> T:
        try:
            return read()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_independently(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """RFC 7515 compact JWS, EdDSA (RFC 8037), checked with cryptography alone: the payload when it verifies."""
    header_b64, payload_b64, signature_b64 = jws.split(".")
    header = json.loads(b64url(header_b64))
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "consent-evidence-pack+jws"
    (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    assert (key["kty"], key["crv"]) == ("OKP", "Ed25519")
    public_key = Ed25519PublicKey.from_public_bytes(b64url(key["x"]))
    public_key.verify(b64url(signature_b64), f"{header_b64}.{payload_b64}".encode("ascii"))  # raises if forged
    payload: dict[str, Any] = json.loads(b64url(payload_b64))
    return payload


@pytest.fixture
def acme(transactional_db: Any, django_user_model: Any) -> Iterator[Organization]:
    """Acme; Ada (cust-1) consented to marketing email 10 days ago from a browser and was sent to the CRM; privacy
    counsel "counsel" may sign in."""
    keys._cache.clear()
    organization = organization_create(slug="acme", name="Acme", actor="test")
    consent_services.source_create(
        organization=organization, actor="test", key="web-signup", name="Signup form", kind=SourceKind.WEB_FORM
    )
    consent_services.purpose_create(organization=organization, actor="test", key="marketing-email", name="Marketing")
    consent_services.consent_record(
        organization=organization,
        item=event_input(
            occurred_at=timezone.now() - timedelta(days=10), ip_address="198.51.100.4", user_agent="Firefox/140"
        ),
    )
    recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role="processor",
        purposes=["marketing-email"],
        data_categories=["contact"],
    )
    stamp_many(
        organization=organization,
        requests=[StampRequest(recipient="crm", purposes=("marketing-email",), subject_id="cust-1", data={"a": 1})],
    )
    consent_services.ledger_sequence(organization)
    consent_services.ledger_checkpoint(organization)
    counsel = django_user_model.objects.create_user(username="counsel", password="s3cret-pass", is_staff=True)
    counsel.groups.add(Group.objects.get(name=PRIVACY_COUNSEL))
    yield organization
    keys._cache.clear()


def test_counsel_records_a_letter_and_produces_an_evidence_pack_whose_signature_verifies_independently(
    acme: Organization, live_server: Any, browser_page: Any, artifacts: Path, tmp_path: Path
) -> None:
    page, base = browser_page, live_server.url
    folder = artifacts / "evidence-pack"
    folder.mkdir(parents=True, exist_ok=True)
    letter = tmp_path / "letter-from-ada.pdf"
    letter.write_bytes(LETTER)

    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "counsel")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.goto(f"{base}/admin/consent/subject/")
    page.get_by_role("link", name="cust-1").click()

    # The letter: a withdrawal, recorded with the scan.
    page.click("#subject-record-consent-link")
    page.select_option("#id_purpose", "marketing-email")
    page.select_option("#id_action", "withdraw")
    page.select_option("#id_received_by", "letter")
    page.fill("#id_note", "Letter received 3 March")
    page.set_input_files("#id_document", str(letter))
    page.screenshot(path=str(folder / "record-letter.png"), full_page=True)
    page.click("#record-consent-submit")
    assert "with its evidence sealed" in page.inner_text(".messagelist")

    # The evidence pack, as PDF.
    page.click("#subject-evidence-pack-link")
    page.screenshot(path=str(folder / "evidence-pack-form.png"), full_page=True)
    page.check("input[name=purposes][value=marketing-email]")
    page.check("input[name=format][value=pdf]")
    with page.expect_download() as pdf_download:
        page.click("#evidence-pack-submit")
    pdf_bytes = Path(pdf_download.value.path()).read_bytes()
    (folder / "evidence-pack.pdf").write_bytes(pdf_bytes)

    # And as JSON.
    page.check("input[name=format][value=json]")
    with page.expect_download() as json_download:
        page.click("#evidence-pack-submit")
    document = json.loads(Path(json_download.value.path()).read_text())

    with urllib.request.urlopen(f"{base}/.well-known/jwks/acme.json", timeout=10) as response:
        jwks = json.load(response)

    jws = document.pop("jws")
    assert verify_independently(jws, jwks) == document
    state = {s["purpose"]: s["status"] for s in document["state"]}
    assert state == {"marketing-email": "withdrawn"}
    grant, withdrawal = document["events"]
    assert grant["evidence"]["ip_address"] == "198.51.100.4"
    assert withdrawal["collection_method"] == "admin"
    assert base64.b64decode(withdrawal["evidence"]["document"]["content_base64"]) == LETTER
    (crm,) = document["recipients"]
    assert crm["stamps"][0]["relied_on"][0]["event_id"] == grant["event_id"]
    assert crm["stamps"][0]["data_categories"] == ["contact"]

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf_bytes))
    attached = reader.attachments["evidence-pack.jws"][0].decode("ascii")
    # The printed JWS runs over pages: leave out whitespace and the pages' "page N of M" footers.
    text = "".join(page_.extract_text() for page_ in reader.pages)
    # The footer names the page count exactly: a greedy "of\d+" would eat the JWS's digits after a page break.
    printed = re.sub(rf"page\d+of{len(reader.pages)}", "", re.sub(r"\s+", "", text))
    assert attached in printed  # the PDF prints the very JWS it carries
    pack = verify_independently(attached, jwks)
    assert pack["subject"]["id"] == "cust-1"
    assert [e["event_id"] for e in pack["events"]] == [grant["event_id"], withdrawal["event_id"]]
    assert any(name.endswith("letter-from-ada.pdf") for name in reader.attachments)

    audited = in_thread(
        lambda: list(
            AuditLogEntry.objects.filter(action="subject.evidence_pack_produced").values_list(
                "data__channel", flat=True
            )
        )
    )
    assert audited == ["admin", "admin"]
