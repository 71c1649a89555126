from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from provenance.services.keys import signing_key_rotate


class Command(BaseCommand):
    help = (
        "Make a new stamp signing key current. New stamps use it within seconds on every process; "
        "stamps made with earlier keys still verify (their public keys stay in /.well-known/jwks.json)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        key = signing_key_rotate(actor="cli:rotate_signing_key")
        self.stdout.write(key.kid)
