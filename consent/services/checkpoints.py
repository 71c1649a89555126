"""Signed checkpoints of an organization's log (issue #12).

The organization's Ed25519 key lives with the stamp keys (provenance, a layer above): provenance registers the
signer at start-up (``register_checkpoint_signer``), so the ledger stays below it and never imports it. After a
sequencing run that grew the log, ``ledger_checkpoint`` signs the new size and root and keeps the note; the
history of checkpoints is append-only in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from consent import checkpoints, selectors
from consent.models import LedgerCheckpoint
from core.models import Organization

logger = logging.getLogger("consent.checkpoints")


@dataclass(frozen=True)
class CheckpointKey:
    """The key that signs an organization's checkpoints: its signed-note name, raw public key, and signing."""

    name: str
    public_key: bytes
    sign: Callable[[bytes], bytes]


CheckpointSignerProvider = Callable[[Organization], CheckpointKey]
_signers: list[CheckpointSignerProvider] = []


def register_checkpoint_signer(provider: CheckpointSignerProvider) -> None:
    """Called once at start-up by the app that holds the organizations' signing keys."""
    if provider not in _signers:
        _signers.append(provider)


def unregister_checkpoint_signer(provider: CheckpointSignerProvider) -> None:
    if provider in _signers:
        _signers.remove(provider)


def checkpoint_signer(organization: Organization) -> CheckpointKey | None:
    return _signers[-1](organization) if _signers else None


def ledger_origin(organization: Organization) -> str:
    """The log's name in its checkpoints: this deployment's public host and path, then ``ledger/<slug>``."""
    base = urlsplit(settings.PROVENANT_PUBLIC_BASE_URL)
    return f"{base.netloc}{base.path.rstrip('/')}/ledger/{organization.slug}"


def ledger_checkpoint(organization: Organization) -> LedgerCheckpoint | None:
    """Sign the log's current size and root unless a checkpoint of that size exists; None for an empty log or
    when no signer is registered. Idempotent and safe to run twice at once."""
    head = selectors.log_head(organization)
    if head is None or head.tree_size == 0:
        return None
    existing = LedgerCheckpoint.objects.filter(organization=organization, tree_size=head.tree_size).first()
    if existing is not None:
        return existing
    signer = checkpoint_signer(organization)
    if signer is None:
        logger.warning("no checkpoint signer registered; the log of organization %s stays unsigned", organization.pk)
        return None
    body = checkpoints.Checkpoint(ledger_origin(organization), head.tree_size, bytes.fromhex(head.root_hash)).body()
    signature = checkpoints.sign(body, name=signer.name, sign_bytes=signer.sign, public_key=signer.public_key)
    note = checkpoints.SignedNote(body, (signature,)).text()
    try:
        with transaction.atomic():
            return LedgerCheckpoint.objects.create(
                organization=organization,
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                note=note,
                key_name=signer.name,
            )
    except IntegrityError:  # signed at the same time by another run
        return LedgerCheckpoint.objects.get(organization=organization, tree_size=head.tree_size)
