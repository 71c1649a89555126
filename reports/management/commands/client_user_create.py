"""Create a client user who reads one organization's compliance report (operators without the admin)."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.problems import DomainError
from core.selectors import organization_by_slug
from reports.services import client_user_create


class Command(BaseCommand):
    help = "Create a non-staff user who signs in at /reports/ and reads one organization's report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="The organization's slug")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from standard input (else it is asked for, twice, without echo)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError(f"No organization '{options['organization']}'.")
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            membership = client_user_create(
                organization=organization,
                username=options["username"],
                email=options["email"],
                password=password,
                actor="cli:client_user_create",
            )
        except DomainError as error:
            errors = "; ".join(str(item.get("detail")) for item in error.extra.get("errors", []))
            raise CommandError(f"{error.detail} {errors}".strip()) from None
        self.stdout.write(f"Client user '{membership.user}' reads /reports/org/{organization.slug}/")
