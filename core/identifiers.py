"""Identifiers are what they look like: subject ids are NFC-normalized and refused when they hold
characters nobody can see, and any identifier has a *skeleton* that is the same for every visually
confusable spelling of it (``paypal`` with a Cyrillic a (U+0430), ``PAYPAL``, ``pay\u200bpal``).

The skeleton follows the idea of Unicode TS #39 §4 (skeletons for confusable detection): compatibility
normalization and case folding, default-ignorable characters removed, then each non-ASCII character that
looks like an ASCII letter or digit replaced by it, from the Unicode confusables data shipped by the
``confusable_homoglyphs`` package. A skeleton is compared, never shown: it is stored only as a blind index.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib import resources

# Bidi embeddings/overrides/isolates, zero-width characters, the word joiner and the BOM: all Cf, listed
# for the error message. Every other control (Cc) or format (Cf) character is refused too.
_INVISIBLE_NAMES = {
    0x200B: "zero-width space",
    0x200C: "zero-width non-joiner",
    0x200D: "zero-width joiner",
    0x200E: "left-to-right mark",
    0x200F: "right-to-left mark",
    0x202A: "bidi embedding",
    0x202B: "bidi embedding",
    0x202C: "bidi pop",
    0x202D: "bidi override",
    0x202E: "bidi override",
    0x2060: "word joiner",
    0x2066: "bidi isolate",
    0x2067: "bidi isolate",
    0x2068: "bidi isolate",
    0x2069: "bidi isolate",
    0xFEFF: "byte-order mark",
}


class IdentifierRefused(ValueError):
    """The identifier can't be accepted; the message says why, for the person who sent it."""


def normalized_identifier(raw: str) -> str:
    """``raw`` in Unicode NFC, or :class:`IdentifierRefused` when it holds control, format (zero-width,
    bidi) or unassigned characters, or is ``.`` or ``..`` (which a URL path can't reach)."""
    if raw.isascii() and raw.isprintable() and raw not in {".", ".."}:
        return raw  # already NFC, and no printable ASCII character is control, format or unassigned
    value = unicodedata.normalize("NFC", raw)
    for char in value:
        category = unicodedata.category(char)
        if category in {"Cc", "Cf", "Cs", "Co", "Cn"} or char in "\u2028\u2029":
            name = _INVISIBLE_NAMES.get(ord(char)) or (
                "control character" if category == "Cc" else "invisible or unassigned character"
            )
            raise IdentifierRefused(f"must not contain a {name} (U+{ord(char):04X})")
    if value in {".", ".."}:
        raise IdentifierRefused("must not be '.' or '..' (a URL path can't address it)")
    return value


def identifier_skeleton(value: str) -> str:
    """The same string for every confusable spelling of ``value`` (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    classes = _confusable_classes()
    out = []
    for char in unicodedata.normalize("NFKC", folded):
        if _is_default_ignorable(char):
            continue
        out.append(classes.get(char, char))
    return "".join(out)


def _is_default_ignorable(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char) == "Cf" or 0xFE00 <= code <= 0xFE0F or code == 0x034F or code == 0x00AD


@lru_cache(maxsize=1)
def _confusable_classes() -> dict[str, str]:
    """Each non-ASCII character that looks like an ASCII letter or digit, mapped to that ASCII character
    (a letter when there is one: Cyrillic a U+0430 and Greek omicron U+03BF become ``a`` and ``o``). ASCII characters
    are left alone: ``cust-1`` and ``cust-l`` are different identifiers people really use."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    mapping: dict[str, str] = {}
    for char, homoglyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_glyphs = [
            glyph
            for glyph in (unicodedata.normalize("NFKC", entry["c"]).casefold() for entry in homoglyphs)
            if len(glyph) == 1 and glyph.isascii() and glyph.isalnum()
        ]
        key = unicodedata.normalize("NFKC", char).casefold()
        if ascii_glyphs and len(key) == 1 and not key.isascii():
            letters = [glyph for glyph in ascii_glyphs if glyph.isalpha()]
            mapping[key] = (letters or ascii_glyphs)[0]
    return mapping
