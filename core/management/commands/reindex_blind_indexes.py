from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.key_custody import blind_index_columns, reindex_column


class Command(BaseCommand):
    help = (
        "Recompute every blind index under the current PROVENANT_BLIND_INDEX_KEY, per organization. Rows whose "
        "plaintext is gone (erased people's suppression entries) keep matching through "
        "PROVENANT_PREVIOUS_BLIND_INDEX_KEYS: keep a previous key there while --check reports such rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Change nothing; exit 1 if any index is not under the current key."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pending = failed = 0
        for column in blind_index_columns():
            report = reindex_column(column, dry_run=options["check"])
            verb = "to re-index" if options["check"] else "re-indexed"
            self.stdout.write(
                f"{report.label}: {report.changed} {verb}, {report.current} current, "
                f"{report.empty} only under earlier keys (plaintext gone)"
                + (f", {len(report.failed)} unreadable" if report.failed else "")
            )
            pending += report.changed
            failed += len(report.failed)
        if failed:
            raise CommandError(f"{failed} row(s) could not be opened with the configured keys.")
        if options["check"] and pending:
            raise CommandError(f"{pending} row(s) are not indexed under the current key: run reindex_blind_indexes.")
