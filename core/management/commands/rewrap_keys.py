from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.key_custody import rewrap_column, wrapped_key_columns


class Command(BaseCommand):
    help = (
        "Re-wrap every stored data key under the current master key (PROVENANT_MASTER_KEY), bound to its owner. "
        "Run after a master-key rotation; when --check reports nothing left, the previous key can be removed "
        "from PROVENANT_PREVIOUS_MASTER_KEYS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Change nothing; exit 1 if any key still needs re-wrapping."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pending = failed = 0
        for column in wrapped_key_columns():
            report = rewrap_column(column, dry_run=options["check"])
            verb = "need re-wrapping" if options["check"] else "re-wrapped"
            self.stdout.write(
                f"{report.label}: {report.changed} {verb}, {report.current} current, {report.empty} destroyed"
                + (f", {len(report.failed)} unreadable (ids {', '.join(report.failed[:10])})" if report.failed else "")
            )
            pending += report.changed
            failed += len(report.failed)
        if failed:
            raise CommandError(f"{failed} key(s) could not be opened with the configured master keys.")
        if options["check"] and pending:
            raise CommandError(f"{pending} key(s) still need re-wrapping: run manage.py rewrap_keys.")
