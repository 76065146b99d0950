"""The map's regions: the 18 official French regions, plus "International".

A shortlist's ``region`` filter takes exactly these names. An organisation outside France
is "International" whatever its own region text says (that text is free-form abroad); a
French organisation without a region, and one whose country is unknown, is on no tile and
only appears unfiltered. Unknown is not abroad (data/CONTRACT.md): real exports leave a
tenth or more of the countries blank, most of them French companies.
"""

from __future__ import annotations

from talentmap.contract_vocab import FR_OVERSEAS_REGIONS, FR_REGIONS

INTERNATIONAL = "International"
FRANCE = "FR"
# Official names, metropolitan first then overseas, in INSEE code order within each.
FRENCH_REGIONS: tuple[str, ...] = tuple(
    sorted(
        FR_REGIONS,
        key=lambda name: (name in FR_OVERSEAS_REGIONS, FR_REGIONS[name]),
    )
)
MAP_REGIONS: tuple[str, ...] = (*FRENCH_REGIONS, INTERNATIONAL)


def map_region(country: object, region: object) -> str | None:
    """The map tile of an organisation, or None (French with no region, or country unknown)."""
    if not isinstance(country, str) or not country:
        return None
    if country != FRANCE:
        return INTERNATIONAL
    return region if isinstance(region, str) and region in FR_REGIONS else None


def unknown_region_message(value: str) -> str:
    return (
        f"unknown region {value!r}: use one of the 18 official French region names "
        f"({', '.join(FRENCH_REGIONS)}) or {INTERNATIONAL!r}"
    )
