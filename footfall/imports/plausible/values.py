"""Plausible's export vocabulary into the vocabulary Footfall stores, in one function.

Every dimension value read from a Plausible CSV export goes through :func:`stored_value`
before it is kept, so an imported "Mac" and a collected macOS visit land in the same
report row. Footfall's stored vocabulary is what ``footfall/ingest/useragent.py`` and
``footfall/ingest/referrer.py`` produce; when that vocabulary changes (to Plausible's own
names), only the tables here change with it.
"""

from __future__ import annotations

from footfall.imports.plausible.places import city_name, region_name
from footfall.ingest.referrer import source_from_utm

# Plausible's "unknown" in every column; Footfall stores unknown as "" (shown "(not set)").
UNKNOWN = frozenset({"", "(not set)", "(none)", "Direct / None"})

# Plausible -> stored (footfall/ingest/useragent.py stores Plausible's own device and OS
# names; only what collection never produces is mapped).
DEVICES = {"Laptop": "Desktop"}
OPERATING_SYSTEMS = {"Linux": "GNU/Linux"}
BROWSERS = {"Microsoft Edge": "Edge", "Mobile App": ""}


def stored_value(column: str, value: str) -> str:
    """The value Footfall would have stored in ``column`` where Plausible wrote ``value``."""
    value = value.strip()
    if value in UNKNOWN:
        return ""
    if column == "device":
        return DEVICES.get(value, value)
    if column == "os":
        return OPERATING_SYSTEMS.get(value, value)
    if column == "browser":
        return BROWSERS.get(value, value)
    if column == "source":
        # Plausible names sources as its referrer list does; a raw host or utm value is
        # named as collection would name it.
        return source_from_utm(value) or value
    if column == "country":
        return value.upper()
    # Plausible exports a region's ISO 3166-2 code and a city's GeoNames id; collection
    # stores the names (footfall/imports/plausible/places.py).
    if column == "region":
        return region_name(value)
    if column == "city":
        return city_name(value)
    return value
