"""Rules for an organization's privacy-center branding: colours that keep text readable (WCAG 2.1 AA), logo
files that are safe to serve, host names. Pure functions, no ORM.

Colours: the primary colour is the background of buttons and the header with white text on it, the accent colour
is the colour of links and focus outlines on the white page; both must reach WCAG 2.1's 4.5:1 contrast ratio for
normal text (success criterion 1.4.3), which also covers the 3:1 of focus indicators and large text.
"""

from __future__ import annotations

import re
from typing import Final

HEX_COLOUR: Final = re.compile(r"^#[0-9a-fA-F]{6}$")
WHITE: Final = "#ffffff"
AA_NORMAL_TEXT: Final = 4.5
DEFAULT_PRIMARY: Final = "#1f4e79"
DEFAULT_ACCENT: Final = "#0b5cad"

# Raster images only: an SVG can carry scripts and external references, and is refused.
LOGO_TYPES: Final = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
LOGO_MAX_BYTES: Final = 256 * 1024
LOGO_MAX_PIXELS: Final = 2048

# RFC 1123 host names: labels of letters, digits and hyphens, a dot between them; no port, no trailing dot.
_LABEL: Final = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOST_NAME: Final = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")


def is_hex_colour(value: str) -> bool:
    return bool(HEX_COLOUR.match(value))


def _channel(value: int) -> float:
    srgb = value / 255
    return srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""
    if not is_hex_colour(colour):
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio, from 1 (none) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def meets_aa_on_white(colour: str) -> bool:
    """Text in ``colour`` on white, or white text on ``colour``, is readable at WCAG AA (4.5:1)."""
    return contrast_ratio(colour, WHITE) >= AA_NORMAL_TEXT


def normalize_host(value: str) -> str:
    """A host name as it is stored and compared: lower case, without a port or a trailing dot."""
    host = value.strip().lower().rstrip(".")
    if host.startswith("[") or host.count(":") > 1:
        return host  # an IPv6 literal: never a custom host, refused by is_host_name
    return host.split(":", 1)[0]


def is_host_name(value: str) -> bool:
    return bool(HOST_NAME.match(value))
