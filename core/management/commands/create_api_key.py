from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.problems import DomainError
from core.scopes import SCOPES
from core.selectors import organization_by_slug
from core.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print only the key on stdout (it is never shown again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="Organization slug")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            required=True,
            choices=sorted(SCOPES),
            help="Repeat for each scope",
        )
        parser.add_argument("--name", default="cli", help="What the key is for")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError(f"No organization '{options['organization']}'.")
        try:
            _, secret = api_key_create(
                organization=organization, name=options["name"], scopes=options["scopes"], actor="cli"
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(secret)
