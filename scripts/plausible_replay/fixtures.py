"""Plausible's test fixtures (``build(:pageview, ...)``) as events for ``POST /api/events``.

Plausible's tests write stored columns directly (``browser: "Chrome"``, ``country_code:
"EE"``, ``referrer_source: "Google"``); Footfall derives those from what a client sends.
So each fixture becomes the request that makes Footfall store the same values: a user
agent that parses to the browser / OS / device asked for (found by trying templates and
checking them with Footfall's own parser), an address that a small ``.mmdb`` written here
places in the country / region / city asked for, a referrer URL whose source is the one
asked for, UTM tags in the page URL. A value no request can produce (a browser version
``"56"`` where parsers give ``"56.0"``) makes the fixture ``Unrepresentable``; those
cases are counted apart from the agreement.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from footfall.imports.plausible.values import stored_value
from footfall.ingest.useragent import parse_user_agent
from footfall.store.imported import DIMENSION_COLUMNS

SOURCES = {
    "Google": "https://www.google.com/",
    "Twitter": "https://twitter.com/",
    "Facebook": "https://www.facebook.com/",
    "Bing": "https://www.bing.com/",
}
COUNTRIES = {
    "EE": "Estonia",
    "US": "United States",
    "IT": "Italy",
    "DE": "Germany",
    "GB": "United Kingdom",
    "CA": "Canada",
}
REGIONS = {
    "GB-LND": "London",
    "CA-ON": "Ontario",
    "EE-37": "Harjumaa",
    "EE-79": "Tartumaa",
    "EE-50": "Jõgevamaa",
    "DE-BE": "Berlin",
}
CITIES = {
    2_643_743: "London",
    6_058_560: "London",
    588_409: "Tallinn",
    588_335: "Tartu",
    591_902: "Jõgeva",
    2_950_159: "Berlin",
    591_632: "Kärdla",
}
NO_PLACE = "10.0.0.1"  # private: no country, as a fixture without one
UTM = ("utm_medium", "utm_source", "utm_campaign", "utm_content", "utm_term")

PLATFORMS = {  # OS name -> {version: platform token}; "" = no version asked for
    "Mac": {
        "": "Macintosh; Intel Mac OS X 10_15_7",
        "10.5": "Macintosh; Intel Mac OS X 10_5",
        "14": "Macintosh; Intel Mac OS X 14",
    },
    "Windows": {
        "": "Windows NT 10.0; Win64; x64",
        "10": "Windows NT 10.0; Win64; x64",
        "7": "Windows NT 6.1; Win64; x64",
    },
    "GNU/Linux": {"": "X11; Linux x86_64"},
    "Android": {"": "Linux; Android 10; K"},
    "iOS": {"": "iPhone; CPU iPhone OS 17_1 like Mac OS X"},
}
BROWSERS = {
    "Chrome": "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} {m}Safari/537.36",
    "Safari": "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} {m}Safari/605.1.15",
    "Firefox": "Gecko/20100101 Firefox/{v}",
    "Edge": "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 {m}Safari/537.36 Edg/{v}",
    "IE": "Trident/7.0; rv:{v}) like Gecko",
}


class Unrepresentable(Exception):
    """A fixture value that no request to Footfall's collection API can produce."""


FIELDS = ("browser", "browser_version", "os", "os_version", "device")


def user_agent(asked: dict[str, str]) -> str:
    """A user agent Footfall parses to every value ``asked`` (FIELDS -> value, "" for
    none), leaving as few of the others set as it can; "Mozilla/5.0" when none is asked."""
    want = {k: ("Internet Explorer" if v == "IE" else v) for k, v in asked.items() if v}
    if not want:
        return "Mozilla/5.0"
    oses = ([want["os"]] if want["os"] in PLATFORMS else []) if "os" in want else ["", *PLATFORMS]
    names = [want["browser"]] if "browser" in want else ["", *BROWSERS]
    names = ["IE" if n == "Internet Explorer" else n for n in names]
    versions = [want["browser_version"]] if "browser_version" in want else ["120.0.0.0", "11.0"]
    best: tuple[int, str] | None = None
    for o, b, v in itertools.product(oses, names, versions):
        platform = PLATFORMS[o].get(asked.get("os_version", "")) if o else "compatible"
        if platform is None or (b not in BROWSERS and b):
            continue
        tail = BROWSERS[b].format(v=v, m="Mobile " if o in ("Android", "iOS") else "") if b else ""
        ua = f"Mozilla/5.0 ({platform}; {tail}" if b == "IE" else f"Mozilla/5.0 ({platform}) {tail}"
        got = parse_user_agent(ua.strip())
        if all(getattr(got, k) == val for k, val in want.items()):
            extra = sum(1 for k in FIELDS if k not in want and getattr(got, k))
            if best is None or extra < best[0]:
                best = (extra, ua.strip())
    if best is None:
        raise Unrepresentable(f"no user agent gives {want}")
    return best[1]


def unfaithful(fx: dict[str, Any], ua: str) -> set[str]:
    """The visit dimensions whose stored value will differ from the fixture's: set where
    the fixture left it empty (every user agent has a device class), or a referrer
    written with its scheme (ingestion, Plausible's too, keeps ``facebook.com``)."""
    got = parse_user_agent(ua)
    loose = {"visit:" + k for k, v in asked(fx).items() if not v and getattr(got, k)}
    return loose | ({"visit:referrer"} if "://" in fx.get("referrer", "") else set())


def place_ip(fx: dict[str, Any], places: dict[tuple[str, str, int], str]) -> str:
    """The address the replay's .mmdb gives this fixture's country / region / city."""
    key = (
        fx.get("country_code", ""),
        fx.get("subdivision1_code", ""),
        fx.get("city_geoname_id", 0),
    )
    if key == ("", "", 0):
        return NO_PLACE
    if (key[0] and key[0] not in COUNTRIES) or (key[1] and key[1] not in REGIONS):
        raise Unrepresentable(f"no place data for {key}")
    if key[2] and key[2] not in CITIES:
        key = (key[0], key[1], 0)
    return places.setdefault(key, f"81.2.{len(places) + 1}.10")


def write_mmdb(path: Path, places: dict[tuple[str, str, int], str]) -> None:
    import mmdb_writer  # the dev extra's, as tests/query/test_location_names.py uses
    from netaddr import IPSet  # type: ignore[import-untyped]

    writer = mmdb_writer.MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City"
    )
    for (country, region, city), ip in places.items():
        record: dict[str, Any] = {
            "country": {"iso_code": country, "names": {"en": COUNTRIES.get(country, country)}}
        }
        if region:
            record["subdivisions"] = [
                {"iso_code": region.split("-")[1], "names": {"en": REGIONS[region]}}
            ]
        if city:
            record["city"] = {"names": {"en": CITIES[city]}}
        writer.insert_network(IPSet([ip.rsplit(".", 1)[0] + ".0/24"]), record)
    writer.to_db_file(str(path))


def event(
    fx: dict[str, Any], n: int, now: datetime, places: dict[tuple[str, str, int], str]
) -> dict[str, Any]:
    """The native event for fixture ``fx``, the n-th of its test."""
    kind = fx["kind"]
    name = {"pageview": "pageview", "engagement": "engagement"}.get(kind) or fx.get("name", "")
    host = fx.get("hostname", f"example-{n}.com")
    path = fx.get("pathname", "/")
    query = "&".join(f"{k}={fx[k]}" for k in UTM if fx.get(k))
    at = fx.get("timestamp")
    when = datetime.fromisoformat(at).replace(tzinfo=UTC) if at else now
    referrer = fx.get("referrer", "")
    if referrer and "://" not in referrer:
        referrer = "https://" + referrer
    if not referrer and fx.get("referrer_source"):
        if fx["referrer_source"] not in SOURCES:
            raise Unrepresentable(f"no referrer for source {fx['referrer_source']}")
        referrer = SOURCES[fx["referrer_source"]]
    out: dict[str, Any] = {
        "event_type": name,
        "path": path,
        "url": f"https://{host}{path}" + (f"?{query}" if query else ""),
        "referrer": referrer,
        "timestamp": when.isoformat(),
        "visitor_id": f"u{fx['user_id']}" if "user_id" in fx else f"anon{n}",
        "ip": place_ip(fx, places),
        "user_agent": user_agent(asked(fx)),
    }
    keys, values = fx.get("meta.key", []), fx.get("meta.value", [])
    if keys:
        out["metadata"] = dict(zip(keys, values, strict=True))
    if "revenue_reporting_amount" in fx:
        out["revenue"] = fx["revenue_reporting_amount"]
    if kind == "engagement":
        out["scroll_depth"] = fx.get("scroll_depth", 0)
        out["engaged_ms"] = fx.get("engagement_time", 0)
        out["interactive"] = False
    return out


def asked(fx: dict[str, Any]) -> dict[str, str]:
    """The fixture's user-agent columns, by Footfall's names."""
    return {
        "browser": fx.get("browser", ""),
        "browser_version": fx.get("browser_version", ""),
        "os": fx.get("operating_system", ""),
        "os_version": fx.get("operating_system_version", ""),
        "device": fx.get("screen_size", ""),
    }


def goal(g: dict[str, Any]) -> dict[str, str]:
    """A Plausible goal as Footfall's goals API takes it (Plausible's display names)."""
    if g.get("page_path"):
        return {
            "name": g.get("display_name", "Visit " + g["page_path"]),
            "kind": "page",
            "target": g["page_path"],
        }
    out = {
        "name": g.get("display_name", g["event_name"]),
        "kind": "event",
        "target": g["event_name"],
    }
    if g.get("currency"):  # a revenue goal (``currency: :USD`` or ``"USD"``)
        out["currency"] = str(g["currency"])
    props = g.get("custom_props") or {}
    if props:  # Footfall narrows a goal by one property: the first (a second is lost)
        key, value = next(iter(props.items()))
        out.update(prop_key=str(key), prop_value=str(value))
    return out


# Plausible's imported_* test tables: Footfall's imported kind, renamed columns, and the
# defaults of Plausible's factories (test/support/factory.ex) for what a fixture omits.
_VISIT = {"visitors": 1, "visits": 1, "bounces": 0, "visit_duration": 10}
IMPORTED = {
    "imported_visitors": ("visitors", {}, {**_VISIT, "pageviews": 1}),
    "imported_sources": ("sources", {}, _VISIT),
    "imported_pages": ("pages", {}, {"visitors": 1, "pageviews": 1, "exits": 0,
                                     "time_on_page": 10}),
    "imported_entry_pages": ("entry_pages", {}, {"visitors": 1, "entrances": 1, "bounces": 0,
                                                 "visit_duration": 10}),
    "imported_exit_pages": ("exit_pages", {}, {"visitors": 1, "exits": 1}),
    "imported_custom_events": ("custom_events", {}, {"visitors": 1, "events": 1}),
    "imported_locations": ("locations", {}, _VISIT),
    "imported_devices": ("devices", {}, _VISIT),
    "imported_browsers": ("browsers", {}, _VISIT),
    "imported_operating_systems": ("operating_systems", {"operating_system": "os",
                                   "operating_system_version": "os_version"}, _VISIT),
}  # fmt: skip


def imported_rows(fixtures: list[dict[str, Any]], today: str) -> list[dict[str, Any]]:
    """Plausible's ``build(:imported_pages, ...)`` fixtures as rows of Footfall's imported
    aggregates (``footfall/store/imported.py``), as Footfall's Plausible CSV import keeps
    them (``footfall/imports/plausible/read.py``)."""
    rows = []
    for fx in fixtures:
        if fx["kind"] not in IMPORTED:
            raise Unrepresentable(f"no imported kind for {fx['kind']}")
        kind, renamed, defaults = IMPORTED[fx["kind"]]
        row: dict[str, Any] = {"kind": kind, **defaults}
        for key, value in fx.items():
            if key not in ("kind", "date", "table"):
                row[renamed.get(key, key)] = value
        for column in DIMENSION_COLUMNS:  # each value as the CSV import keeps it
            if column in row:
                row[column] = stored_value(column, str(row[column]))
        row["date"] = str(fx.get("date") or today)[:10]
        rows.append(row)
    return rows
