"""Privacy stamps: RFC 8785 canonical JSON, RFC 9530 digests, and Ed25519 detached-JWS sign and verify.

This module imports only the standard library and ``cryptography``, so a receiving system can copy
this one file and check stamps without Provenant's code. A stamped response body is
``{"data": ..., "privacy": {..., "data_digest": "sha-256=:...:"}}``, sent with two headers:

- ``Privacy-Stamp``: a compact JWS with a detached payload (RFC 7515 Appendix F),
  ``<base64url header>..<base64url signature>``, header ``{"alg":"EdDSA","kid":...,"typ":"privacy-stamp+jws"}``
  (RFC 8037). The signed payload is the RFC 8785 canonical JSON of the whole body.
- ``Content-Digest``: ``sha-256=:<base64 SHA-256 of the canonical body>:`` (RFC 9530). The body is
  sent in its canonical form, so this is also the digest of the bytes on the wire.

``privacy.data_digest`` is the same digest over the canonical JSON of ``data`` alone, so a receiver can
tell "the data was changed" from "the privacy envelope was changed". The envelope names the organization
that issued it (``privacy.issuer``, its public identifier) and the recipient it was made for
(``privacy.recipient.key``). Each organization signs with its own keys, published at
``/.well-known/jwks/<issuer>.json`` (``/.well-known/jwks.json`` lists every organization's keys).

Example
-------
Verify a stamp in about ten lines: fetch the issuer's public keys (cache them), then check each body
you receive (``body_bytes``) with its response ``headers``, naming who must have issued it, that it was
made for you, and how old it may be (seconds)::

    import json
    import urllib.request

    from provenance.verify import verify_stamp

    with urllib.request.urlopen("https://provenant.example.com/.well-known/jwks/acme.json", timeout=10) as response:
        jwks = json.load(response)

    body = json.loads(body_bytes)
    result = verify_stamp(body, headers["Privacy-Stamp"], jwks, content_digest_header=headers.get("Content-Digest"),
                          expected_issuer="acme", expected_recipient="crm", max_age=3600)
    if not result.valid:
        raise ValueError(f"privacy stamp rejected: {result.reason}")
    print(f"stamp {result.stamp_id} verified with key {result.kid}")
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from json.encoder import encode_basestring
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

STAMP_TYPE = "privacy-stamp+jws"
ALGORITHM = "EdDSA"
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32

# Integers up to 2**53 in magnitude are exact doubles and print as their digits in ES6 too.
_SAFE_INTEGER = 2**53
_INFINITY = float("inf")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_Write = Callable[[str], Any]


# ---------------------------------------------------------------------------------------------------
# RFC 8785 JSON Canonicalization Scheme


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value.

    Raises ValueError for NaN, infinities, lone surrogates and integers whose value JSON would change
    (beyond 2**53, unless written exactly as ES6 writes their double); TypeError for non-JSON types and
    non-string member names. Messages never echo the value.
    """
    parts: list[str] = []
    _write(value, parts.append)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("JCS: string contains a lone surrogate, which is not valid Unicode") from None


def _write(value: Any, out: _Write) -> None:
    # Hot path: exact-type checks for the common cases, scalars inlined in the container loops, and
    # strings escaped by the json module's C encoder (RFC 8785 3.2.2.2 is exactly ES6 JSON.stringify,
    # which escapes ", \ and U+0000..U+001F only, with \b \f \n \r \t or lowercase \u00xx, like it).
    kind = type(value)
    if kind is dict:
        if not value:
            out("{}")
            return
        separator = "{"
        for key in _sorted_keys(value):
            item = value[key]
            out(separator)
            separator = ","
            out(encode_basestring(key))
            out(":")
            item_kind = type(item)
            if item_kind is str:
                out(encode_basestring(item))
            elif item_kind is int and -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
                out(int.__repr__(item))
            elif item_kind is bool:
                out("true" if item else "false")
            elif item is None:
                out("null")
            else:
                _write(item, out)
        out("}")
    elif kind is list or kind is tuple:
        if not value:
            out("[]")
            return
        separator = "["
        for item in value:
            out(separator)
            separator = ","
            item_kind = type(item)
            if item_kind is str:
                out(encode_basestring(item))
            elif item_kind is int and -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
                out(int.__repr__(item))
            elif item_kind is bool:
                out("true" if item else "false")
            elif item is None:
                out("null")
            else:
                _write(item, out)
        out("]")
    elif kind is str:
        out(encode_basestring(value))
    elif kind is bool:
        out("true" if value else "false")
    elif value is None:
        out("null")
    elif kind is int:
        out(_integer_text(value))
    elif kind is float:
        out(_number_text(value))
    # Subclasses (StrEnum, IntEnum, OrderedDict, other Mappings) take the slow road.
    elif isinstance(value, str):
        out(encode_basestring(value))
    elif isinstance(value, int):
        out(_integer_text(int(value)))
    elif isinstance(value, float):
        out(_number_text(float(value)))
    elif isinstance(value, Mapping):
        _write(dict(value.items()), out)
    elif isinstance(value, list | tuple):
        _write(list(value), out)
    else:
        raise TypeError(f"JCS: {type(value).__name__} is not a JSON type")


def _sorted_keys(mapping: dict[Any, Any]) -> list[str]:
    """Member names in RFC 8785 3.2.3 order: by UTF-16 code units."""
    try:
        joined = "".join(mapping)
    except TypeError:
        raise TypeError("JCS: object member names must be strings") from None
    # Code point order equals UTF-16 code unit order unless a name holds a character from
    # U+E000..U+FFFF and another an astral one (its surrogates D800..DFFF sort before E000).
    if joined.isascii() or max(joined) < "\ue000":
        return sorted(mapping)
    try:
        return sorted(mapping, key=lambda name: name.encode("utf-16-be"))
    except UnicodeEncodeError:
        raise ValueError("JCS: member name contains a lone surrogate, which is not valid Unicode") from None


def _integer_text(value: int) -> str:
    if -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
        return int.__repr__(value)
    # JSON numbers are doubles (RFC 8785 3.2.2.3). A larger integer is accepted only when its digits
    # are exactly what ES6 prints for the double it denotes (e.g. 44759702251714300, which is how a
    # float prints), so reading the canonical bytes back, as Python ints or as JS doubles, gives the
    # same bytes again. Any other (2**53 + 1, 2**60, 10**21) would change value and is refused.
    try:
        text = _number_text(float(value))
    except OverflowError:
        raise ValueError("JCS: integer is outside the IEEE 754 double range") from None
    if text != int.__repr__(value):
        raise ValueError("JCS: integer is not exactly representable as an IEEE 754 double")
    return text


def _number_text(value: float) -> str:
    """ES6 Number.prototype.toString of a finite double (ECMA-262 7.1.12.1, RFC 8785 3.2.2.3)."""
    if value != value or value == _INFINITY or value == -_INFINITY:
        raise ValueError("JCS: NaN and Infinity are not JSON numbers")
    if value == 0:
        return "0"  # also -0
    # repr() gives the shortest round-trip digits, as ES6 does. It writes positional notation for
    # 1e-4 <= |v| < 1e16, where ES6 does too and differs only by the trailing ".0" of integers.
    text = repr(value)
    if "e" not in text:
        return text[:-2] if text.endswith(".0") else text
    mantissa, _, exponent = text.partition("e")
    sign = ""
    if mantissa[0] == "-":
        sign = "-"
        mantissa = mantissa[1:]
    digits = mantissa.replace(".", "")
    k = len(digits)
    n = int(exponent) + 1  # value = 0.<digits> * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    exponent_text = f"e{n - 1:+d}"
    if k == 1:
        return sign + digits + exponent_text
    return sign + digits[0] + "." + digits[1:] + exponent_text


# ---------------------------------------------------------------------------------------------------
# RFC 9530 digests


def content_digest(body_bytes: bytes) -> str:
    """RFC 9530 ``Content-Digest`` value of these bytes: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body_bytes).digest()).decode("ascii") + ":"


def data_digest(data: Any) -> str:
    """``privacy.data_digest``: the RFC 9530 SHA-256 form over the canonical JSON of ``data``."""
    return content_digest(canonical_json(data))


def _sha256_member(header: str) -> str | None:
    """The ``sha-256`` member of an RFC 9530 Content-Digest dictionary, in ``sha-256=:...:`` form."""
    for member in header.split(","):
        name, equals, value = member.strip().partition("=")
        if equals and name.strip() == "sha-256":
            return "sha-256=" + value.strip()
    return None


# ---------------------------------------------------------------------------------------------------
# Keys and stamps


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 2): no padding, no other alphabet, no stray bits."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def public_jwk(public_key: Ed25519PublicKey, kid: str) -> dict[str, str]:
    """The RFC 8037 OKP JWK of an Ed25519 public key, as published in the JWKS."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "use": "sig", "alg": ALGORITHM}


def sign_payload(payload: bytes, private_key: Ed25519PrivateKey, kid: str) -> str:
    """Detached compact JWS ``<header>..<signature>`` over already-canonical payload bytes."""
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    header = _b64url(canonical_json({"alg": ALGORITHM, "kid": kid, "typ": STAMP_TYPE}))
    signature = private_key.sign(f"{header}.{_b64url(payload)}".encode("ascii"))
    return f"{header}..{_b64url(signature)}"


def sign_stamp(body: Mapping[str, Any], private_key: Ed25519PrivateKey, kid: str) -> str:
    """The ``Privacy-Stamp`` value for a body: an Ed25519 detached JWS over its canonical JSON.

    Refuses (ValueError) a body whose ``privacy.data_digest`` does not match its ``data``: such a
    stamp could never verify.
    """
    privacy = body.get("privacy")
    if "data" not in body or not isinstance(privacy, Mapping):
        raise ValueError('a stamp body is {"data": ..., "privacy": {...}}')
    payload, data_bytes = _canonical_body(body)
    if privacy.get("data_digest") != content_digest(data_bytes):
        raise ValueError("privacy.data_digest does not match data")
    return sign_payload(payload, private_key, kid)


def _canonical_body(body: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """Canonical bytes of the body and of its ``data``, canonicalizing ``data`` only once."""
    data_bytes = canonical_json(body["data"])
    if len(body) == 2 and "privacy" in body:
        # JCS orders "data" before "privacy", so the body is these two members spliced together.
        return b'{"data":' + data_bytes + b',"privacy":' + canonical_json(body["privacy"]) + b"}", data_bytes
    return canonical_json(body), data_bytes


class Reason(StrEnum):
    """Why a stamp did not verify (values are the strings receivers log and compare)."""

    MALFORMED = "MALFORMED"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    DATA_DIGEST_MISMATCH = "DATA_DIGEST_MISMATCH"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    ENVELOPE_CHANGED = "ENVELOPE_CHANGED"
    ISSUER_MISMATCH = "ISSUER_MISMATCH"
    RECIPIENT_MISMATCH = "RECIPIENT_MISMATCH"
    EXPIRED = "EXPIRED"


# A stamp dated later than now by more than this is refused as EXPIRED when ``max_age`` is given.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Outcome of :func:`verify_stamp`; ``reason`` is None exactly when ``valid``."""

    valid: bool
    reason: Reason | None = None
    kid: str | None = None
    stamp_id: str | None = None


@dataclass(frozen=True, slots=True)
class _ParsedStamp:
    header_segment: str
    signature_segment: str
    kid: str


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    header = dict(pairs)
    if len(header) != len(pairs):
        raise ValueError("duplicate header parameter")
    return header


def _parse_stamp(privacy_stamp: object) -> _ParsedStamp | None:
    if not isinstance(privacy_stamp, str):
        return None
    segments = privacy_stamp.strip().split(".")
    if len(segments) != 3 or segments[1] != "" or not segments[0] or not segments[2]:
        return None
    try:
        header = json.loads(_b64url_decode(segments[0]), object_pairs_hook=_reject_duplicates)
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    kid = header.get("kid")
    # No "crit": this verifier implements no JWS extensions (RFC 7515 4.1.11), b64=false included.
    if header.get("alg") != ALGORITHM or header.get("typ") != STAMP_TYPE or "crit" in header:
        return None
    if not isinstance(kid, str) or not kid:
        return None
    return _ParsedStamp(header_segment=segments[0], signature_segment=segments[2], kid=kid)


def _public_key(jwks: Mapping[str, Any], kid: str) -> Ed25519PublicKey | None:
    """The usable Ed25519 key published under ``kid``, if any."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        return None
    for jwk in keys:
        if not isinstance(jwk, Mapping) or jwk.get("kid") != kid:
            continue
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
            continue
        x = jwk.get("x")
        try:
            raw = _b64url_decode(x) if isinstance(x, str) else b""
        except (ValueError, binascii.Error):
            continue
        if len(raw) == PUBLIC_KEY_BYTES:
            return Ed25519PublicKey.from_public_bytes(raw)
    return None


def _stamped_at(privacy: Mapping[str, Any]) -> datetime | None:
    value = privacy.get("stamped_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _binding_failure(
    privacy: Mapping[str, Any],
    *,
    expected_issuer: str | None,
    expected_recipient: str | None,
    max_age: timedelta | float | None,
    now: datetime | None,
) -> Reason | None:
    """The first of issuer, recipient and age that the envelope fails, or None."""
    if expected_issuer is not None and privacy.get("issuer") != expected_issuer:
        return Reason.ISSUER_MISMATCH
    if expected_recipient is not None:
        recipient = privacy.get("recipient")
        key = recipient.get("key") if isinstance(recipient, Mapping) else None
        if key != expected_recipient:
            return Reason.RECIPIENT_MISMATCH
    if max_age is not None:
        if not isinstance(max_age, timedelta):
            max_age = timedelta(seconds=max_age)
        stamped_at = _stamped_at(privacy)
        current = now if now is not None else datetime.now(UTC)
        if stamped_at is None or current - stamped_at > max_age or stamped_at - current > CLOCK_SKEW:
            return Reason.EXPIRED
    return None


def verify_stamp(
    body: Mapping[str, Any],
    privacy_stamp: str,
    jwks: Mapping[str, Any],
    *,
    content_digest_header: str | None = None,
    expected_issuer: str | None = None,
    expected_recipient: str | None = None,
    max_age: timedelta | float | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Check a received body against its ``Privacy-Stamp`` header and the issuer's JWKS.

    ``expected_issuer`` is the public identifier of the organization that must have issued the stamp
    (``privacy.issuer``); ``expected_recipient`` the recipient key it must have been made for
    (``privacy.recipient.key``); ``max_age`` how long ago it may have been stamped (a timedelta or seconds,
    against ``privacy.stamped_at``; ``now`` defaults to the clock). Each is checked only when given; receivers
    should give all three.
    The checks run in this order; the first that fails decides the reason:

    ===========================  ===========================================================================
    reason                       when
    ===========================  ===========================================================================
    ``MALFORMED``                the stamp is not ``<header>..<signature>`` (three parts, empty middle);
                                 the header is not strict unpadded base64url of a JSON object without
                                 duplicate names; ``alg`` is not ``EdDSA``; ``typ`` is not
                                 ``privacy-stamp+jws``; ``kid`` is not a non-empty string; ``crit`` is
                                 present; or the body is not ``{"data": ..., "privacy": {...}}`` with a
                                 string ``privacy.data_digest`` and canonical JSON (no NaN, no Infinity)
    ``ISSUER_MISMATCH``          ``expected_issuer`` was given and ``privacy.issuer`` is not it: a stamp
                                 of another organization, refused whatever its signature
    ``RECIPIENT_MISMATCH``       ``expected_recipient`` was given and ``privacy.recipient.key`` is not it
    ``EXPIRED``                  ``max_age`` was given and ``privacy.stamped_at`` is missing, not an
                                 RFC 3339 instant with an offset, older than ``max_age`` or more than
                                 ``CLOCK_SKEW`` (5 minutes) in the future
    ``UNKNOWN_KEY``              the JWKS has no usable Ed25519 key (OKP, Ed25519, 32-byte ``x``) with
                                 that ``kid`` (a revoked key has left the JWKS)
    ``DATA_DIGEST_MISMATCH``     ``privacy.data_digest`` is not the digest of ``data`` (the data was
                                 changed), or ``content_digest_header`` was given and its ``sha-256``
                                 member is missing or not the digest of the canonical body
    ``BAD_SIGNATURE``            the signature part is not strict base64url of exactly 64 bytes
    ``ENVELOPE_CHANGED``         the well-formed 64-byte signature does not verify over the canonical
                                 body although the data digest matches: the privacy envelope (perhaps
                                 with a recomputed data_digest) was changed, or the signature belongs to
                                 another body or key
    (valid)                      all of the above pass
    ===========================  ===========================================================================

    The binding checks come before the signature: they can only refuse, and a stamp made for someone
    else is refused for that reason whatever its signature. ``kid`` is reported once the header parses;
    ``stamp_id`` is ``privacy.stamp_id`` when it is a string.
    """
    stamp = _parse_stamp(privacy_stamp)
    if stamp is None:
        return VerificationResult(valid=False, reason=Reason.MALFORMED)
    kid = stamp.kid
    privacy = body.get("privacy") if isinstance(body, Mapping) else None
    if not isinstance(privacy, Mapping) or "data" not in body or not isinstance(privacy.get("data_digest"), str):
        return VerificationResult(valid=False, reason=Reason.MALFORMED, kid=kid)
    stamp_id = privacy.get("stamp_id")
    stamp_id = stamp_id if isinstance(stamp_id, str) else None

    def failed(reason: Reason) -> VerificationResult:
        return VerificationResult(valid=False, reason=reason, kid=kid, stamp_id=stamp_id)

    binding = _binding_failure(
        privacy,
        expected_issuer=expected_issuer,
        expected_recipient=expected_recipient,
        max_age=max_age,
        now=now,
    )
    if binding is not None:
        return failed(binding)
    public_key = _public_key(jwks, kid)
    if public_key is None:
        return failed(Reason.UNKNOWN_KEY)
    try:
        payload, data_bytes = _canonical_body(body)
    except (ValueError, TypeError, RecursionError):
        return failed(Reason.MALFORMED)
    if privacy["data_digest"] != content_digest(data_bytes):
        return failed(Reason.DATA_DIGEST_MISMATCH)
    if content_digest_header is not None and _sha256_member(content_digest_header) != content_digest(payload):
        return failed(Reason.DATA_DIGEST_MISMATCH)
    try:
        signature = _b64url_decode(stamp.signature_segment)
    except (ValueError, binascii.Error):
        return failed(Reason.BAD_SIGNATURE)
    if len(signature) != SIGNATURE_BYTES:
        return failed(Reason.BAD_SIGNATURE)
    signing_input = f"{stamp.header_segment}.{_b64url(payload)}".encode("ascii")
    try:
        public_key.verify(signature, signing_input)
    except InvalidSignature:
        return failed(Reason.ENVELOPE_CHANGED)
    return VerificationResult(valid=True, kid=kid, stamp_id=stamp_id)
