"""Compile every app's .po catalog into the .mo file Django reads, in pure Python (no GNU gettext needed).

The .mo files are committed beside their .po, so ``make run``, ``make test`` and an installed package work on a
fresh machine; run this after editing a .po (``--check`` says whether any .mo is stale, as the tests do)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.translations import compiled, mo_messages, po_files


class Command(BaseCommand):
    help = "Compile the .po catalogs of every app into .mo files (pure Python); --check only compares."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if a committed .mo differs from its .po.")

    def handle(self, *args: Any, **options: Any) -> None:
        stale = []
        for po_path in po_files():
            mo_path = po_path.with_suffix(".mo")
            data = compiled(po_path)
            current = mo_path.read_bytes() if mo_path.exists() else b""
            if current and mo_messages(current) == mo_messages(data):
                continue
            if options["check"]:
                stale.append(str(mo_path))
                continue
            mo_path.write_bytes(data)
            self.stdout.write(f"compiled {mo_path}")
        if stale:
            raise CommandError("stale .mo files (run manage.py compile_translations): " + ", ".join(stale))
