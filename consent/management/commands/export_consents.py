"""``manage.py export_consents --organization SLUG [--since CURSOR] [--purpose KEY] [--output FILE]``: the lines of
``GET /api/v1/consent-events/export`` (issue #17), written to a file or standard output."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent import selectors
from core.cursors import cursor_binding, decode_cursor, encode_cursor
from core.problems import InvalidInput
from core.selectors import organization_by_slug


class Command(BaseCommand):
    help = "Export an organization's consent events as NDJSON (all, since a feed cursor, or one purpose's)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="the organization's slug")
        parser.add_argument("--since", help="a `cursor` of the change feed or of an earlier export")
        parser.add_argument("--purpose", help="only this purpose's events (its key)")
        parser.add_argument("--output", help="the file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError("No organization with this slug.")
        purpose = None
        if options["purpose"]:
            purpose = selectors.purpose_by_key(organization=organization, key=options["purpose"])
            if purpose is None:
                raise CommandError("Unknown purpose.")
        # Bound as the API binds its feed cursors (core.api.pagination.list_binding): to the organization and to
        # `purpose`, the one filter, so a cursor passes between this command, the export and the feed.
        binding = cursor_binding(organization.pk, [("purpose", options["purpose"])] if options["purpose"] else [])
        try:
            position = (
                decode_cursor(options["since"], selectors.FEED_CURSOR_KIND, parameter="since", binding=binding)
                if options["since"]
                else None
            )
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        lines = selectors.consent_export_lines(
            organization,
            position=position,
            purpose=purpose,
            encode_position=lambda reached: encode_cursor(selectors.FEED_CURSOR_KIND, reached, binding=binding),
            since=options["since"],
        )
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="\n") as out:
                out.writelines(lines)
        else:
            for line in lines:
                self.stdout.write(line, ending="")
