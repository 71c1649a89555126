"""``manage.py audit_ledger --export FILE --checkpoint FILE [--checkpoint FILE] --jwks FILE``: the offline auditor
(``consent/ledger_audit.py``, which needs none of Provenant's code) run from here for convenience."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent import ledger_audit


class Command(BaseCommand):
    help = "Audit a ledger export against checkpoints you kept and the JWKS, trusting neither us nor the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--export", required=True, help="the NDJSON export (GET /api/v1/ledger/export)")
        parser.add_argument("--checkpoint", required=True, action="append", help="a checkpoint you kept; repeatable")
        parser.add_argument("--jwks", required=True, help="the JSON Web Key Set (/.well-known/jwks.json)")

    def handle(self, *args: Any, **options: Any) -> None:
        argv = ["--export", options["export"], "--jwks", options["jwks"]]
        for path in options["checkpoint"]:
            argv += ["--checkpoint", path]
        status = ledger_audit.main(argv, out=self.stdout)
        if status != 0:
            raise CommandError("the ledger audit failed" if status == 1 else "the audit's input is unreadable")
