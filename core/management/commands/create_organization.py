from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.problems import DomainError
from core.services import organization_create


class Command(BaseCommand):
    help = "Create an organization (a client whose data Provenant holds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Lowercase identifier, e.g. acme")
        parser.add_argument("--name", required=True, help="Display name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = organization_create(slug=options["slug"], name=options["name"], actor="cli")
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(organization.slug)
