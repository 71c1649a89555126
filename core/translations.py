"""The message catalogs, without GNU gettext: .po files are compiled to the .mo files Django reads with Babel (pure
Python), and the messages of templates and code are extracted the way ``makemessages`` does (Django's
``templatize``, then a Python extractor), so a fresh machine needs no system tools and a test can tell when a
catalog misses a message or a committed .mo is stale."""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation.template import templatize

KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "npgettext": ((1, "c"), 2, 3),
}


def po_files() -> list[Path]:
    """Every catalog of our apps (``<app>/locale/<language>/LC_MESSAGES/django.po``)."""
    base = Path(settings.BASE_DIR)
    return sorted(path for path in base.glob("*/locale/*/LC_MESSAGES/django.po") if ".venv" not in path.parts)


def read_catalog(po_path: Path) -> Catalog:
    with po_path.open("rb") as handle:
        return read_po(handle)


def compiled(po_path: Path) -> bytes:
    """The .mo bytes of a .po file (fuzzy entries left out, as msgfmt does)."""
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(po_path), use_fuzzy=False)
    return buffer.getvalue()


def mo_messages(data: bytes) -> dict[str, str]:
    """The messages of .mo bytes as gettext reads them (plural forms keyed by their singular and index)."""
    translations = gettext.GNUTranslations(io.BytesIO(data))
    catalog: dict[object, str] = translations._catalog  # type: ignore[attr-defined]
    return {str(key): value for key, value in catalog.items() if key != ""}


def _message_ids(source: str, *, is_template: bool) -> Iterator[str]:
    text = templatize(source) if is_template else source
    for _lineno, _function, message, _comments in extract_python(io.BytesIO(text.encode()), KEYWORDS, [], {}):
        parts = message if isinstance(message, tuple | list) else (message,)
        yield from (part for part in parts if isinstance(part, str) and part)


def source_messages(*paths: Path) -> set[str]:
    """The message ids of templates (``.html``, ``.txt``) and Python files under ``paths``."""
    found: set[str] = set()
    for root in paths:
        for path in sorted(root.rglob("*")):
            if path.suffix in {".html", ".txt"}:
                found |= set(_message_ids(path.read_text(encoding="utf-8"), is_template=True))
            elif path.suffix == ".py":
                found |= set(_message_ids(path.read_text(encoding="utf-8"), is_template=False))
    return found
