"""Privacy stamps (provenance/verify.py): sign and verify, every failure reason of the decision table,
Content-Digest, the module's standalone imports, and the docstring's Example against a real HTTP server."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings

from provenance import verify
from provenance.verify import (
    Reason,
    VerificationResult,
    canonical_json,
    content_digest,
    data_digest,
    public_jwk,
    sign_stamp,
    verify_stamp,
)
from tests.unit.test_jcs import json_text, json_values

KID = "stamp-2025-03"
STAMP_ID = "01JABCDEFGHJKMNPQRSTVWXYZ0"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def stamp_body(data: Any = None, **privacy: Any) -> dict[str, Any]:
    data = {"email": "jane@example.com", "name": "Jane Doë", "orders": [1, 2.5, None]} if data is None else data
    envelope: dict[str, Any] = {
        "stamp_id": STAMP_ID,
        "subject": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
        "issued_at": "2025-03-01T12:00:00Z",
        "purposes": [
            {"purpose": "marketing-email", "opt_in": True},
            {"purpose": "analytics", "opt_in": False},
        ],
        "data_digest": data_digest(data),
    }
    envelope.update(privacy)
    return {"data": data, "privacy": envelope}


@pytest.fixture(scope="module")
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def jwks(private_key: Ed25519PrivateKey) -> dict[str, Any]:
    other = Ed25519PrivateKey.generate().public_key()
    return {"keys": [public_jwk(other, "retired-2024"), public_jwk(private_key.public_key(), KID)]}


def received(body: dict[str, Any]) -> dict[str, Any]:
    """The body as a receiver sees it: canonical bytes on the wire, parsed again."""
    parsed: dict[str, Any] = json.loads(canonical_json(body))
    return parsed


# --- round trip ---------------------------------------------------------------------------------


def test_freshly_signed_stamp_verifies(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, KID)

    result = verify_stamp(received(body), stamp, jwks)

    assert result == VerificationResult(valid=True, reason=None, kid=KID, stamp_id=STAMP_ID)


def test_stamp_verifies_whatever_order_and_spacing_the_receiver_parses(
    private_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    data = {"z": 1e21, "a": [4.47597022517143e16, -0.0, "\U0001f600", "\ufb33"], "m": {"\u20ac": True}}
    body = stamp_body(data)
    stamp = sign_stamp(body, private_key, KID)
    pretty = json.dumps({"privacy": body["privacy"], "data": body["data"]}, indent=2, ensure_ascii=True)

    assert verify_stamp(json.loads(pretty), stamp, jwks).valid


def test_stamp_is_a_detached_compact_jws_over_the_canonical_body() -> None:
    """Known answer with the RFC 8037 A.1 key: the format is checked by hand, not by our own verifier."""
    key = Ed25519PrivateKey.from_private_bytes(b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
    data = {"b": "ü", "a": 1}
    body = {"privacy": {"data_digest": data_digest(data), "stamp_id": "s1"}, "data": data}

    header, payload, signature = sign_stamp(body, key, "k1").split(".")

    assert payload == ""
    assert b64url_decode(header) == b'{"alg":"EdDSA","kid":"k1","typ":"privacy-stamp+jws"}'
    expected_payload = '{"data":{"a":1,"b":"ü"},"privacy":{"data_digest":"' + data_digest(data) + '","stamp_id":"s1"}}'
    signing_input = f"{header}.{b64url(expected_payload.encode())}".encode()
    key.public_key().verify(b64url_decode(signature), signing_input)  # raises if not


@settings(max_examples=200, deadline=None)
@given(data=json_values, extra=json_values, name=json_text)
def test_every_stamp_signs_the_canonical_json_of_the_whole_body(data: Any, extra: Any, name: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    body = {"data": data, "privacy": {"data_digest": data_digest(data), "extra_" + name: extra}}

    header, _, signature = sign_stamp(body, key, "k1").split(".")

    signing_input = f"{header}.{b64url(canonical_json(body))}".encode()
    key.public_key().verify(b64url_decode(signature), signing_input)
    assert verify_stamp(
        json.loads(canonical_json(body)), f"{header}..{signature}", {"keys": [public_jwk(key.public_key(), "k1")]}
    ).valid


def test_public_jwk_is_rfc_8037_okp() -> None:
    key = Ed25519PrivateKey.from_private_bytes(b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
    assert public_jwk(key.public_key(), "k1") == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",  # RFC 8037 A.2
        "kid": "k1",
        "use": "sig",
        "alg": "EdDSA",
    }


def test_digests_are_rfc_9530_sha256_over_canonical_json() -> None:
    data = {"b": 1, "a": "x"}
    expected = base64.b64encode(hashlib.sha256(b'{"a":"x","b":1}').digest()).decode()
    assert data_digest(data) == f"sha-256=:{expected}:"
    assert content_digest(b'{"a":"x","b":1}') == f"sha-256=:{expected}:"


def test_signing_refuses_a_body_whose_data_digest_is_wrong(private_key: Ed25519PrivateKey) -> None:
    body = stamp_body(data_digest="sha-256=:AAAA:")
    with pytest.raises(ValueError, match="data_digest"):
        sign_stamp(body, private_key, KID)
    with pytest.raises(ValueError, match="stamp body"):
        sign_stamp({"data": 1}, private_key, KID)


# --- failure reasons ----------------------------------------------------------------------------


def test_changed_data_is_a_data_digest_mismatch(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, KID)
    tampered = received(body)
    tampered["data"]["email"] = "mallory@example.com"

    result = verify_stamp(tampered, stamp, jwks)

    assert (result.valid, result.reason, result.kid, result.stamp_id) == (
        False,
        Reason.DATA_DIGEST_MISMATCH,
        KID,
        STAMP_ID,
    )


def test_flipped_opt_in_is_an_envelope_change(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, KID)
    tampered = received(body)
    tampered["privacy"]["purposes"][1]["opt_in"] = True

    result = verify_stamp(tampered, stamp, jwks)

    assert result.reason == Reason.ENVELOPE_CHANGED
    assert result.reason == "ENVELOPE_CHANGED"  # a plain string for receivers


def test_changed_data_with_a_recomputed_data_digest_is_an_envelope_change(
    private_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, KID)
    tampered = received(body)
    tampered["data"]["email"] = "mallory@example.com"
    tampered["privacy"]["data_digest"] = data_digest(tampered["data"])

    assert verify_stamp(tampered, stamp, jwks).reason == Reason.ENVELOPE_CHANGED


def test_signature_by_another_key_under_a_known_kid_is_an_envelope_change(jwks: dict[str, Any]) -> None:
    body = stamp_body()
    forged = sign_stamp(body, Ed25519PrivateKey.generate(), KID)

    assert verify_stamp(received(body), forged, jwks).reason == Reason.ENVELOPE_CHANGED


def test_flipped_signature_bit_is_an_envelope_change(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    """Still a well-formed 64-byte signature, so by the decision table it is ENVELOPE_CHANGED."""
    body = stamp_body()
    header, _, signature = sign_stamp(body, private_key, KID).split(".")
    raw = bytearray(b64url_decode(signature))
    raw[10] ^= 0x01

    assert verify_stamp(received(body), f"{header}..{b64url(bytes(raw))}", jwks).reason == Reason.ENVELOPE_CHANGED


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda s: s[:-4], id="truncated"),
        pytest.param(lambda s: s + "AAAA", id="too-long"),
        pytest.param(lambda s: s[:-1] + "+", id="not-base64url"),
        pytest.param(lambda s: s + "==", id="padded"),
        pytest.param(lambda s: s[:-1] + chr(ord(s[-1]) + 1), id="stray-bits"),  # A/Q/g/w + 1: low bit set
    ],
)
def test_corrupted_signature_is_a_bad_signature(
    corrupt: Any, private_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    body = stamp_body()
    header, _, signature = sign_stamp(body, private_key, KID).split(".")

    result = verify_stamp(received(body), f"{header}..{corrupt(signature)}", jwks)

    assert (result.valid, result.reason, result.kid) == (False, Reason.BAD_SIGNATURE, KID)


def test_changed_data_outranks_a_bad_signature(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    body = stamp_body()
    header, _, signature = sign_stamp(body, private_key, KID).split(".")
    tampered = received(body)
    tampered["data"]["name"] = "Someone Else"

    result = verify_stamp(tampered, f"{header}..{signature[:-4]}", jwks)

    assert result.reason == Reason.DATA_DIGEST_MISMATCH


def test_unknown_kid_is_unknown_key(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, "not-published")

    result = verify_stamp(received(body), stamp, jwks)

    assert (result.valid, result.reason, result.kid) == (False, Reason.UNKNOWN_KEY, "not-published")


@pytest.mark.parametrize(
    "jwks_document",
    [
        pytest.param({}, id="no-keys"),
        pytest.param({"keys": "nope"}, id="keys-not-a-list"),
        pytest.param({"keys": [{"kid": KID, "kty": "EC", "crv": "P-256", "x": "AAAA"}]}, id="not-okp"),
        pytest.param({"keys": [{"kid": KID, "kty": "OKP", "crv": "X25519", "x": "A" * 43}]}, id="x25519"),
        pytest.param({"keys": [{"kid": KID, "kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}, id="short-x"),
        pytest.param({"keys": [{"kid": KID, "kty": "OKP", "crv": "Ed25519", "x": "%%%"}]}, id="bad-x"),
    ],
)
def test_jwks_without_a_usable_key_for_the_kid_is_unknown_key(
    jwks_document: dict[str, Any], private_key: Ed25519PrivateKey
) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, KID)

    assert verify_stamp(received(body), stamp, jwks_document).reason == Reason.UNKNOWN_KEY


def header_segment(header: Any) -> str:
    return b64url(json.dumps(header).encode())


GOOD_HEADER = {"alg": "EdDSA", "kid": KID, "typ": "privacy-stamp+jws"}
SIGNATURE = "A" * 86
DUPLICATE_ALG = b'{"alg":"none","alg":"EdDSA","kid":"k","typ":"privacy-stamp+jws"}'


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="not-a-string"),
        pytest.param(f"{header_segment(GOOD_HEADER)}.{SIGNATURE}", id="two-parts"),
        pytest.param(f"{header_segment(GOOD_HEADER)}.eyJ9.{SIGNATURE}", id="attached-payload"),
        pytest.param(f"{header_segment(GOOD_HEADER)}...{SIGNATURE}", id="four-parts"),
        pytest.param(f"{header_segment(GOOD_HEADER)}..", id="no-signature"),
        pytest.param(f"..{SIGNATURE}", id="no-header"),
        pytest.param(f"e30=..{SIGNATURE}", id="padded-header"),
        pytest.param(f"!!!..{SIGNATURE}", id="header-not-base64url"),
        pytest.param(f"{b64url(b'not json')}..{SIGNATURE}", id="header-not-json"),
        pytest.param(f"{b64url(b'[1]')}..{SIGNATURE}", id="header-not-object"),
        pytest.param(f"{header_segment({**GOOD_HEADER, 'alg': 'none'})}..{SIGNATURE}", id="alg-none"),
        pytest.param(f"{header_segment({**GOOD_HEADER, 'alg': 'ES256'})}..{SIGNATURE}", id="alg-es256"),
        pytest.param(f"{header_segment({'alg': 'EdDSA', 'kid': KID})}..{SIGNATURE}", id="no-typ"),
        pytest.param(f"{header_segment({**GOOD_HEADER, 'typ': 'JWT'})}..{SIGNATURE}", id="wrong-typ"),
        pytest.param(f"{header_segment({**GOOD_HEADER, 'kid': ''})}..{SIGNATURE}", id="empty-kid"),
        pytest.param(f"{header_segment({**GOOD_HEADER, 'kid': 7})}..{SIGNATURE}", id="kid-not-string"),
        pytest.param(f"{header_segment({**GOOD_HEADER, 'crit': ['b64'], 'b64': False})}..{SIGNATURE}", id="crit"),
        pytest.param(f"{b64url(DUPLICATE_ALG)}..{SIGNATURE}", id="duplicate-alg"),
    ],
)
def test_malformed_stamp_is_malformed(stamp: Any, jwks: dict[str, Any]) -> None:
    result = verify_stamp(stamp_body(), stamp, jwks)

    assert (result.valid, result.reason, result.kid) == (False, Reason.MALFORMED, None)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"data": {}}, id="no-privacy"),
        pytest.param({"privacy": {"data_digest": data_digest({})}}, id="no-data"),
        pytest.param({"data": {}, "privacy": {}}, id="no-data-digest"),
        pytest.param({"data": {}, "privacy": {"data_digest": 7}}, id="data-digest-not-string"),
        pytest.param({"data": {"x": float("nan")}, "privacy": {"data_digest": "x"}}, id="nan-in-data"),
        pytest.param([1, 2], id="not-an-object"),
    ],
)
def test_body_that_is_not_a_stamp_body_is_malformed(
    body: Any, private_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    stamp = sign_stamp(stamp_body(), private_key, KID)

    result = verify_stamp(body, stamp, jwks)

    assert (result.valid, result.reason, result.kid) == (False, Reason.MALFORMED, KID)


# --- Content-Digest -----------------------------------------------------------------------------


def test_matching_content_digest_verifies(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, KID)
    header = content_digest(canonical_json(body))

    assert verify_stamp(received(body), stamp, jwks, content_digest_header=header).valid
    also_sha512 = f"sha-512=:{base64.b64encode(b'x' * 64).decode()}:, {header}"
    assert verify_stamp(received(body), stamp, jwks, content_digest_header=also_sha512).valid


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(content_digest(b"{}"), id="other-body"),
        pytest.param("sha-512=:AAAA:", id="no-sha256-member"),
        pytest.param("", id="empty"),
    ],
)
def test_mismatched_content_digest_is_a_data_digest_mismatch(
    header: str, private_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    body = stamp_body()
    stamp = sign_stamp(body, private_key, KID)

    assert verify_stamp(received(body), stamp, jwks, content_digest_header=header).reason == (
        Reason.DATA_DIGEST_MISMATCH
    )


# --- standalone module --------------------------------------------------------------------------


def test_verify_module_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(Path(verify.__file__).read_text(encoding="utf-8"))
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports tie the file to this project"
            modules.append(node.module or "")
    assert modules
    outside = sorted({m for m in modules if m.split(".")[0] not in sys.stdlib_module_names | {"cryptography"}})
    assert outside == []


def test_importing_verify_loads_no_django() -> None:
    code = "import sys, provenance.verify; sys.exit('django' in sys.modules)"
    root = Path(verify.__file__).resolve().parent.parent
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


# --- the docstring's Example, against a real HTTP server on 127.0.0.1 ---------------------------


def example_code() -> str:
    """The literal block under the module docstring's "Example" heading."""
    assert verify.__doc__
    section = verify.__doc__.split("\nExample\n-------\n", 1)[1]
    block = section.split("::\n", 1)[1]
    lines: list[str] = []
    for line in block.splitlines():
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)).strip() + "\n"


class PublisherHandler(BaseHTTPRequestHandler):
    """Serves the JWKS and one stamped payload, as a Provenant deployment would."""

    routes: dict[str, tuple[bytes, dict[str, str]]] = {}

    def do_GET(self) -> None:
        body, headers = self.routes.get(self.path, (b"not found", {}))
        self.send_response(200 if self.path in self.routes else 404)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def publisher(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    routes: dict[str, tuple[bytes, dict[str, str]]] = {}
    handler = type("Handler", (PublisherHandler,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    routes["/.well-known/jwks/acme.json"] = (json.dumps(jwks).encode(), {"Content-Type": "application/jwk-set+json"})
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve_stamped(routes: dict[str, Any], body_bytes: bytes, stamp: str, digest: str) -> None:
    headers = {"Content-Type": "application/json", "Privacy-Stamp": stamp, "Content-Digest": digest}
    routes["/api/payload"] = (body_bytes, headers)


def run_example(base_url: str) -> dict[str, Any]:
    """Receive the payload over HTTP, then run the Example exactly as written, pointed at base_url."""
    code = example_code()
    assert "https://provenant.example.com/.well-known/jwks/acme.json" in code
    with urllib.request.urlopen(f"{base_url}/api/payload", timeout=10) as response:
        namespace: dict[str, Any] = {"body_bytes": response.read(), "headers": response.headers}
    exec(compile(code.replace("https://provenant.example.com", base_url), "<verify example>", "exec"), namespace)
    return namespace


def example_stamp_body(**privacy: Any) -> dict[str, Any]:
    """A body as the Example's receiver expects it: issued by acme, for crm, stamped just now."""
    stamped_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    values = {"issuer": "acme", "recipient": {"key": "crm", "role": "processor"}, "stamped_at": stamped_at}
    return stamp_body(**{**values, **privacy})


def test_docstring_example_verifies_a_stamp_fetched_over_http(
    publisher: tuple[str, dict[str, Any]], private_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url, routes = publisher
    body = example_stamp_body()
    payload = canonical_json(body)
    serve_stamped(routes, payload, sign_stamp(body, private_key, KID), content_digest(payload))

    namespace = run_example(base_url)

    assert namespace["result"].valid
    assert capsys.readouterr().out == f"stamp {STAMP_ID} verified with key {KID}\n"
    assert len([line for line in example_code().splitlines() if line.strip()]) <= 12


def test_docstring_example_rejects_a_tampered_payload(
    publisher: tuple[str, dict[str, Any]], private_key: Ed25519PrivateKey
) -> None:
    base_url, routes = publisher
    body = example_stamp_body()
    stamp = sign_stamp(body, private_key, KID)
    tampered = received(body)
    tampered["privacy"]["purposes"][0]["opt_in"] = False
    payload = canonical_json(tampered)
    serve_stamped(routes, payload, stamp, content_digest(payload))

    with pytest.raises(ValueError, match="privacy stamp rejected: ENVELOPE_CHANGED"):
        run_example(base_url)


def test_docstring_example_refuses_a_stamp_another_organization_issued(
    publisher: tuple[str, dict[str, Any]], private_key: Ed25519PrivateKey
) -> None:
    base_url, routes = publisher
    body = example_stamp_body(issuer="globex")  # validly signed, but not by the issuer the receiver trusts
    payload = canonical_json(body)
    serve_stamped(routes, payload, sign_stamp(body, private_key, KID), content_digest(payload))

    with pytest.raises(ValueError, match="privacy stamp rejected: ISSUER_MISMATCH"):
        run_example(base_url)


# --- issuer, recipient and age (#11 item 8) ------------------------------------------------------


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def bound_body(**privacy: Any) -> dict[str, Any]:
    values = {"issuer": "acme", "recipient": {"key": "crm", "role": "processor"}, "stamped_at": "2026-03-01T11:30:00Z"}
    return stamp_body(**{**values, **privacy})


def check(body: dict[str, Any], private_key: Ed25519PrivateKey, jwks: dict[str, Any], **expected: Any) -> Any:
    return verify_stamp(received(body), sign_stamp(body, private_key, KID), jwks, now=NOW, **expected)


def test_a_stamp_matching_issuer_recipient_and_age_verifies(
    private_key: Ed25519PrivateKey, jwks: dict[str, Any]
) -> None:
    result = check(
        bound_body(), private_key, jwks, expected_issuer="acme", expected_recipient="crm", max_age=timedelta(hours=1)
    )

    assert (result.valid, result.reason, result.kid) == (True, None, KID)


@pytest.mark.parametrize(
    ("privacy", "expected", "reason"),
    [
        ({"issuer": "globex"}, {"expected_issuer": "acme"}, Reason.ISSUER_MISMATCH),
        ({}, {"expected_issuer": "globex"}, Reason.ISSUER_MISMATCH),
        ({"issuer": None}, {"expected_issuer": "acme"}, Reason.ISSUER_MISMATCH),
        (
            {"recipient": {"key": "ads", "role": "third_party"}},
            {"expected_recipient": "crm"},
            Reason.RECIPIENT_MISMATCH,
        ),
        ({"recipient": "crm"}, {"expected_recipient": "crm"}, Reason.RECIPIENT_MISMATCH),
        ({}, {"max_age": timedelta(minutes=29)}, Reason.EXPIRED),
        ({}, {"max_age": 29 * 60}, Reason.EXPIRED),
        ({"stamped_at": "2026-03-01T12:06:00Z"}, {"max_age": 3600}, Reason.EXPIRED),
        ({"stamped_at": "2026-03-01T11:30:00"}, {"max_age": 3600}, Reason.EXPIRED),
        ({"stamped_at": "yesterday"}, {"max_age": 3600}, Reason.EXPIRED),
    ],
)
def test_a_validly_signed_stamp_for_someone_else_or_too_old_is_refused_with_its_reason(
    private_key: Ed25519PrivateKey, jwks: dict[str, Any], privacy: dict[str, Any], expected: Any, reason: Reason
) -> None:
    body = bound_body(**privacy)
    assert verify_stamp(received(body), sign_stamp(body, private_key, KID), jwks).valid  # the signature is good

    result = check(body, private_key, jwks, **expected)

    assert (result.valid, result.reason, result.kid, result.stamp_id) == (False, reason, KID, STAMP_ID)


def test_a_stamp_of_another_issuer_is_refused_for_that_even_under_an_unknown_key(
    private_key: Ed25519PrivateKey,
) -> None:
    body = bound_body(issuer="globex")

    result = check(body, private_key, {"keys": []}, expected_issuer="acme")

    assert result.reason == Reason.ISSUER_MISMATCH


def test_max_age_allows_a_small_clock_skew(private_key: Ed25519PrivateKey, jwks: dict[str, Any]) -> None:
    body = bound_body(stamped_at="2026-03-01T12:04:00Z")

    assert check(body, private_key, jwks, max_age=60).valid
