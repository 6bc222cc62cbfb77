"""Dimensions: what each ``event:``/``visit:``/``time:`` name means on each table.

Events carry their visit's attributes (stamped by the writer), so every visit dimension
except the exit page is a plain column on both tables. ``None`` for a table means the
dimension must be reached through the other table (a semi-join on ``session_id``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from footfall.ingest.validate import FieldError
from footfall.query.countries import COUNTRY_NAMES

CHANNEL_SEARCH = ("Google", "Bing", "DuckDuckGo", "Yahoo!", "Yandex", "Baidu", "Ecosia", "Brave",
                  "Startpage", "Kagi", "Qwant", "Naver", "Seznam")  # fmt: skip
CHANNEL_SOCIAL = ("Facebook", "Twitter", "LinkedIn", "Reddit", "Instagram", "YouTube", "Pinterest",
                  "TikTok", "Mastodon", "Bluesky", "Threads", "Hacker News", "Telegram", "WhatsApp")  # fmt: skip


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


# Plausible-style acquisition channel, derived from the visit's source and UTM medium.
CHANNEL_SQL = f"""CASE
  WHEN lower(utm_medium) IN ('cpc', 'ppc', 'paid', 'paidsearch') AND referrer_source IN ({_quoted(CHANNEL_SEARCH)}) THEN 'Paid Search'
  WHEN lower(utm_medium) IN ('cpc', 'ppc', 'paid', 'paidsocial') THEN 'Paid Social'
  WHEN lower(utm_medium) IN ('email', 'e-mail', 'newsletter') OR lower(utm_source) IN ('email', 'newsletter') THEN 'Email'
  WHEN referrer_source IN ({_quoted(CHANNEL_SEARCH)}) THEN 'Organic Search'
  WHEN referrer_source IN ({_quoted(CHANNEL_SOCIAL)}) THEN 'Organic Social'
  WHEN referrer_source = '' THEN 'Direct'
  ELSE 'Referral' END"""


# What an empty value is called: "(not set)" for a visit's attributes, as Plausible names
# it, "(none)" for an event's (a property the event lacks). A filter takes either name for
# the empty value of any dimension, so links saved before the visit names changed still work.
NOT_SET = "(not set)"
NONE = "(none)"


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    events: str | None  # SQL on the events table ({map} is replaced for props)
    sessions: str | None  # SQL on the sessions table
    empty_label: str = NONE  # what an empty value is called in results and filters
    prop_key: str | None = None
    # The sessions column an events statement joins to group by this dimension (its
    # ``events`` SQL, a correlated subquery, serves filters).
    visit_column: str | None = None
    # Stored value -> its name in results and filters (country codes -> country names);
    # a value the table lacks is shown as it is stored.
    names: Mapping[str, str] | None = field(default=None, hash=False, compare=False)

    def label(self, value: object) -> str:
        """How a stored value reads in results."""
        if value is None or value == "":
            return self.empty_label
        text = str(value)
        return self.names.get(text, text) if self.names is not None else text

    def stored_values(self, op: str, values: tuple[str, ...], case_sensitive: bool) -> list[str]:
        """The stored values whose names a filter (``op`` without ``_not``) chooses."""
        fold = (lambda v: v) if case_sensitive else str.casefold
        wanted = [fold(v) for v in values]
        try:
            patterns = [re.compile(v) for v in values] if op.startswith("matches") else []
        except re.error as exc:
            problem = f"invalid regular expression for {self.name}: {exc}"
            raise FieldError("filters", problem) from None
        out = []
        for stored, name in {**(self.names or {}), "": self.empty_label}.items():
            if op.startswith("is"):
                chosen = fold(name) in wanted or (stored == "" and self.is_empty(values))
            elif op.startswith("contains"):
                chosen = any(w in fold(name) for w in wanted)
            else:
                chosen = any(p.search(name) for p in patterns)
            if chosen:
                out.append(stored)
        return out

    def is_empty(self, values: tuple[str, ...]) -> bool:
        """Whether a filter's values name the empty value (by either name)."""
        return any(v in (self.empty_label, NONE, NOT_SET) for v in values)

    @property
    def event_level(self) -> bool:
        return self.name.startswith("event:")


_VISIT_COLUMNS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "device",
                  "browser", "browser_version", "os", "os_version", "country", "region", "city",
                  "screen", "language")  # fmt: skip

DIMENSIONS: dict[str, Dimension] = {
    "event:page": Dimension("event:page", "pathname", None),
    "event:hostname": Dimension("event:hostname", "hostname", None),
    "event:name": Dimension("event:name", "name", None),
    # A goal is a filter, not a column: footfall/query/goals.py compiles it per site.
    "event:goal": Dimension("event:goal", None, None),
    "visit:entry_page": Dimension("visit:entry_page", "entry_page", "entry_page", NOT_SET),
    # Events carry no exit page (it changes with every new event): read it from the visit.
    "visit:exit_page": Dimension(
        "visit:exit_page",
        "(SELECT s.exit_page FROM sessions s WHERE s.site_id = events.site_id AND s.session_id = events.session_id)",
        "exit_page",
        NOT_SET,
        visit_column="exit_page",
    ),
    # The visit's first event's hostname (Plausible's entry page hostname); like the exit
    # page, events reach it through their visit.
    "visit:entry_page_hostname": Dimension(
        "visit:entry_page_hostname",
        "(SELECT s.hostname FROM sessions s WHERE s.site_id = events.site_id AND s.session_id = events.session_id)",
        "hostname",
        NOT_SET,
        visit_column="hostname",
    ),
    "visit:exit_page_hostname": Dimension(
        "visit:exit_page_hostname",
        "(SELECT s.exit_hostname FROM sessions s WHERE s.site_id = events.site_id AND s.session_id = events.session_id)",
        "exit_hostname",
        NOT_SET,
        visit_column="exit_hostname",
    ),
    "visit:source": Dimension(
        "visit:source", "referrer_source", "referrer_source", "Direct / None"
    ),
    "visit:referrer": Dimension(
        "visit:referrer", "{strip:referrer}", "{strip:referrer}", "Direct / None"
    ),
    "visit:channel": Dimension("visit:channel", CHANNEL_SQL, CHANNEL_SQL, NOT_SET),
    **{f"visit:{c}": Dimension(f"visit:{c}", c, c, NOT_SET) for c in _VISIT_COLUMNS},
    # Plausible's names of the location: countries by name; regions and cities are stored
    # by their English names already.
    "visit:country_name": Dimension(
        "visit:country_name", "country", "country", NOT_SET, names=COUNTRY_NAMES
    ),
    "visit:region_name": Dimension("visit:region_name", "region", "region", NOT_SET),
    "visit:city_name": Dimension("visit:city_name", "city", "city", NOT_SET),
}
TIME_UNITS = {"time:minute": "minute", "time:hour": "hour", "time:day": "day", "time:week": "week",
              "time:month": "month"}  # fmt: skip


def dimension(name: str, field: str = "dimensions") -> Dimension:
    """The dimension called ``name``; ``time*`` names are handled by the builder."""
    if name in DIMENSIONS:
        return DIMENSIONS[name]
    if name == "time" or name in TIME_UNITS:
        return Dimension(name, None, None)
    if name.startswith("event:props:"):
        key = name.removeprefix("event:props:")
        if not 1 <= len(key) <= 128:
            raise FieldError(field, "a property name is 1-128 characters")
        return Dimension(name, "{map:props}", None, prop_key=key)
    raise FieldError(field, f"unknown dimension {name!r}")
