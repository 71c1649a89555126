from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from provenance.services.keys import signing_key_rotate


class Command(BaseCommand):
    help = (
        "Make a new current stamp signing key for an organization (--organization SLUG, repeatable) or for every "
        "organization (--all). New stamps use it within seconds on every process; stamps made with earlier "
        "keys still verify (their public keys stay in the organization's JWKS until revoked). Prints "
        "'<organization> <kid>' a line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", action="append", default=[], metavar="SLUG")
        parser.add_argument("--all", action="store_true", help="Rotate every organization's key")

    def handle(self, *args: Any, **options: Any) -> None:
        slugs: list[str] = options["organization"]
        if bool(slugs) == bool(options["all"]):
            raise CommandError("Name the organizations (--organization SLUG) or give --all.")
        organizations = list(Organization.objects.order_by("slug") if options["all"] else [])
        if slugs:
            found = {org.slug: org for org in Organization.objects.filter(slug__in=slugs)}
            missing = sorted(set(slugs) - set(found))
            if missing:
                raise CommandError(f"No organization with slug: {', '.join(missing)}")
            organizations = [found[slug] for slug in dict.fromkeys(slugs)]
        for organization in organizations:
            key = signing_key_rotate(organization=organization, actor="cli:rotate_signing_key")
            self.stdout.write(f"{organization.slug} {key.kid}")
