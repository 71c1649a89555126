"""The time zone a holiday calendar implies, and the calendar a time zone implies (issue #18).

A calendar implies a zone when its place keeps one civil time: Ireland's ``IE`` (or ``EU-IE``) is
``Europe/Dublin``; Spain's ``ES`` is not (the Canary Islands keep another time), but ``ES-CN`` is
``Atlantic/Canary`` and another Spanish region is ``Europe/Madrid``. ``US-FED`` and ``WEEKENDS_ONLY`` imply none.
A zone implies the calendar of the country the IANA database places it in (``Europe/Dublin`` -> ``IE``) when the
holiday package knows that country. Pure: no ORM, no settings.
"""

from __future__ import annotations

from typing import Final

from dsar.calendars import US_FEDERAL, UnknownCalendar, calendar_place, normalize_calendar_id
from dsar.deadlines.zone_table import MULTI_ZONE_COUNTRIES, SINGLE_ZONE_COUNTRIES, ZONE_COUNTRY

# Regions of a country that keeps several times, named by the holiday package's subdivision codes (ISO 3166-2),
# whose time differs from the country's first zone. Any other region of these countries keeps the first zone.
REGION_ZONES: Final[dict[tuple[str, str], str]] = {
    ("ES", "CN"): "Atlantic/Canary",  # Canarias
    ("PT", "20"): "Atlantic/Azores",  # Região Autónoma dos Açores
    ("PT", "30"): "Atlantic/Madeira",  # Região Autónoma da Madeira
}
# Countries where every region the package lists is either in REGION_ZONES or keeps the first zone.
_REGIONS_RESOLVED: Final = frozenset(country for country, _ in REGION_ZONES)


def calendar_time_zone(calendar_id: str) -> str | None:
    """The one time zone the calendar's place keeps, or None when it keeps several or names no place."""
    canonical = normalize_calendar_id(calendar_id)
    if canonical == US_FEDERAL:
        return None
    country, region = calendar_place(canonical)
    if country is None:
        return None
    if country in SINGLE_ZONE_COUNTRIES:
        return SINGLE_ZONE_COUNTRIES[country]
    if region is not None and country in _REGIONS_RESOLVED:
        return REGION_ZONES.get((country, region.upper()), MULTI_ZONE_COUNTRIES[country][0])
    return None


def zones_of_calendar(calendar_id: str) -> tuple[str, ...]:
    """The zones kept in the calendar's country, for a refusal that names them (empty when unknown)."""
    try:
        country, _ = calendar_place(normalize_calendar_id(calendar_id))
    except UnknownCalendar:
        return ()
    if country is None:
        return ()
    return MULTI_ZONE_COUNTRIES.get(country, ())


def time_zone_calendar(zone_name: str) -> str | None:
    """The national holiday calendar of the country the zone lies in, or None when the zone is not a country's
    (``UTC``, ``Etc/GMT+5``, a legacy alias) or the holiday package does not know the country."""
    country = ZONE_COUNTRY.get(zone_name)
    if country is None:
        return None
    try:
        return normalize_calendar_id(country)
    except UnknownCalendar:
        return None
