from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.services import ledger_integrity_check
from core.selectors import organization_by_slug


class Command(BaseCommand):
    help = "Recompute every hash chain of the consent ledger; exit 1 and name the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="Only this organization's ledger (slug)")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = None
        if options["organization"]:
            organization = organization_by_slug(options["organization"])
            if organization is None:
                raise CommandError(f"No organization '{options['organization']}'.")
        run = ledger_integrity_check(organization=organization, actor="cli:verify_ledger")
        result = {
            "valid": run.is_valid,
            "subjects_checked": run.subjects_checked,
            "events_checked": run.events_checked,
            "ledger_root": run.ledger_root,
            "first_break": run.first_break,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        elif run.is_valid:
            self.stdout.write(
                f"ledger valid: {run.events_checked} events in {run.subjects_checked} chains; root {run.ledger_root}"
            )
        else:
            self.stdout.write(f"ledger BROKEN: {json.dumps(run.first_break)}")
        if not run.is_valid:
            raise SystemExit(1)
