"""Checkpoints of a transparency log in the C2SP formats (issue #12): ``tlog-checkpoint`` text signed as a
``signed-note``, the formats of Go's checksum database and Sigstore's logs, so existing tools can read them.

A checkpoint body is three lines: the log's origin, the tree size in decimal, the root hash in standard base64,
each ending in a newline. A signed note is the body, an empty line, then one line per signature:
``— <key name> <base64(key hash || Ed25519 signature)>``, where the key hash is the first four bytes of
SHA-256(key name || 0x0A || 0x01 || public key) and the signature covers the body exactly. A verifier key is
written ``<name>+<hex key hash>+<base64(0x01 || public key)>``. Pure: standard library and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space


class NoteError(ValueError):
    """Text that is not a well-formed checkpoint or signed note."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.tree_size}\n{base64.b64encode(self.root_hash).decode()}\n"


@dataclass(frozen=True)
class NoteSignature:
    key_name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class SignedNote:
    body: str
    signatures: tuple[NoteSignature, ...]

    def text(self) -> str:
        lines = "".join(
            f"{SIGNATURE_PREFIX}{s.key_name} {base64.b64encode(s.key_hash + s.signature).decode()}\n"
            for s in self.signatures
        )
        return f"{self.body}\n{lines}"


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name or not name.isprintable():
        raise NoteError(f"{name!r} is not a signed-note key name (no spaces, no '+')")


def key_hash(name: str, public_key: bytes) -> bytes:
    _check_name(name)
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The ``<name>+<hash>+<key>`` string that names a signer to note verifiers."""
    return f"{name}+{key_hash(name, public_key).hex()}+{base64.b64encode(ED25519 + public_key).decode()}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """(name, raw Ed25519 public key) of a verifier key string."""
    try:
        name, hash_hex, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise NoteError("not a verifier key (<name>+<hash>+<base64 key>)") from exc
    if len(raw) != 33 or raw[:1] != ED25519:
        raise NoteError("not an Ed25519 verifier key")
    if key_hash(name, raw[1:]).hex() != hash_hex:
        raise NoteError("the verifier key's hash does not match its name and key")
    return name, raw[1:]


def sign(body: str, *, name: str, sign_bytes: Callable[[bytes], bytes], public_key: bytes) -> NoteSignature:
    """One signature over ``body`` (``sign_bytes`` signs a message with the Ed25519 key of ``public_key``)."""
    signature = sign_bytes(body.encode())
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise NoteError("an Ed25519 signature is 64 bytes")
    return NoteSignature(name, key_hash(name, public_key), signature)


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is at least three lines, each ending in a newline")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if (
        not origin
        or not (size_text.isascii() and size_text.isdigit())
        or (size_text != "0" and size_text.startswith("0"))
    ):
        raise NoteError("the checkpoint's origin or tree size is malformed")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("the checkpoint's root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root)


def parse_note(text: str) -> SignedNote:
    if "\n\n" not in text or not text.endswith("\n"):
        raise NoteError("a signed note is a body, an empty line and signature lines")
    body, _, rest = text.rpartition("\n\n")
    body += "\n"
    signatures = []
    for line in rest.split("\n")[:-1]:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line starts with an em dash")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise NoteError("a signature is not base64") from exc
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("the note carries no signature")
    return SignedNote(body, tuple(signatures))


def open_note(text: str, keys: Sequence[tuple[str, bytes]]) -> tuple[str, list[str]]:
    """The note's body and the names of the given keys whose signature on it verifies. Raises NoteError when
    the text is malformed or no given key signed it."""
    note = parse_note(text)
    verified = []
    for name, public_key in keys:
        expected = key_hash(name, public_key)
        for signature in note.signatures:
            if signature.key_name != name or signature.key_hash != expected:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(public_key).verify(signature.signature, note.body.encode())
            except (InvalidSignature, ValueError):
                continue
            verified.append(name)
    if not verified:
        raise NoteError("no signature by a known key verifies")
    return note.body, verified


def verify_checkpoint(text: str, keys: Sequence[tuple[str, bytes]]) -> tuple[Checkpoint, list[str]]:
    """A signed checkpoint, checked: its body parsed, and the names of the given keys that signed it."""
    body, verified = open_note(text, keys)
    return parse_checkpoint(body), verified
