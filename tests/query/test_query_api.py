"""POST /api/v2/query against a hand-built dataset, checked with a plain-Python reference
written from docs/design.md's metric definitions (never from the product's SQL)."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings
from tests.reference import half_up, split_visits

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
# (referrer sent, source expected), (ip, country), (ua, browser, device)
SOURCES = [("https://www.google.com/search?q=a", "Google"), ("", "Direct / None"),
           ("https://news.ycombinator.com/item?id=1", "Hacker News"), ("https://t.co/abc", "Twitter")]  # fmt: skip
PLACES = [("8.8.8.8", "US"), ("81.2.69.160", "GB"), ("5.9.0.1", "DE")]
AGENTS = [
    (CHROME, "Chrome", "Desktop"),
    (FIREFOX, "Firefox", "Desktop"),
    (IPHONE, "Safari", "Mobile"),
]
PAGES = ["/", "/pricing", "/blog/a", "/blog/b", "/p/1", "/p/22", "/docs"]
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def build(seed: int = 3) -> list[dict[str, Any]]:
    """~60 visits over the last 10 days; each visit has one source/place/agent."""
    rng = random.Random(seed)
    events = []
    for n in range(60):
        visitor = f"v{n % 45}"  # some visitors come back
        ref, source = rng.choice(SOURCES)
        ip, country = rng.choice(PLACES)
        ua, browser, device = rng.choice(AGENTS)
        at = NOW - timedelta(days=rng.randint(0, 9), minutes=rng.randint(60, 600))
        for i in range(rng.choice([1, 1, 2, 3, 5])):
            kind = (
                "pageview" if i == 0 or rng.random() < 0.75 else rng.choice(["signup", "download"])
            )
            events.append(
                {
                    "event_type": kind,
                    "path": rng.choice(PAGES),
                    "at": at,
                    "visitor_id": visitor,
                    "referrer": ref if i == 0 else "https://example.com/",
                    "ip": ip,
                    "user_agent": ua,
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "metadata": {"plan": rng.choice(["free", "pro"])} if kind == "signup" else None,
                    # expected visit attributes, filled below from the visit's first event
                    "_source": source,
                    "_country": country,
                    "_browser": browser,
                    "_device": device,
                }
            )
            at += timedelta(minutes=rng.choice([1, 4, 9]))
    return events


def sessionize(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """30-minute rule per visitor on event time; visit attributes are the first event's."""
    visits = split_visits(events)
    for v in visits:
        first = v[0]
        pages = [e["path"] for e in v if e["event_type"] == "pageview"]
        for e in v:
            e["v_source"], e["v_country"], e["v_browser"] = (
                first["_source"],
                first["_country"],
                first["_browser"],
            )
            e["v_entry"], e["v_exit"] = (pages[0], pages[-1]) if pages else ("", "")
            e["visit"] = id(v)
    return visits


def wire(e: dict[str, Any]) -> dict[str, Any]:
    body = {
        k: v
        for k, v in e.items()
        if not k.startswith(("_", "v_")) and k not in ("at", "visit") and v is not None
    }
    body["timestamp"] = e["at"].isoformat()
    body["url"] = "https://example.com" + e["path"]
    return body


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[dict[str, Any]]:
    app = create_app(
        make_settings(Path(tmp_path_factory.mktemp("q")), store_url=store_url, flush_interval_ms=20)
    )
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        site = client.post(
            "/api/site/create", json={"name": "Q", "domains": ["example.com"]}, headers=auth
        ).json()
        other = client.post(
            "/api/site/create", json={"name": "Other", "domains": ["other.org"]}, headers=auth
        ).json()
        token = client.post("/api/tokens", json={"site_id": site["site_id"]}, headers=auth).json()[
            "token"
        ]
        other_token = client.post(
            "/api/tokens", json={"site_id": other["site_id"]}, headers=auth
        ).json()["token"]
        events = build()
        visits = sessionize(events)
        for i in range(0, len(events), 100):
            r = client.post(
                "/api/events",
                json={"events": [wire(e) for e in events[i : i + 100]]},
                headers={"x-api-key": site["api_key"]},
            )
            assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)

        def query(
            body: dict[str, Any], tok: str | None = token, status: int = 200
        ) -> dict[str, Any]:
            payload = {"site_id": site["site_id"], "date": TODAY.isoformat(), **body}
            r = client.post(
                "/api/v2/query",
                json=payload,
                headers={"Authorization": f"Bearer {tok}"} if tok else {},
            )
            assert r.status_code == status, r.text
            return r.json()

        yield {
            "events": events,
            "visits": visits,
            "query": query,
            "site": site,
            "other_token": other_token,
            "client": client,
        }


def in_days(events: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    lo = datetime.combine(TODAY - timedelta(days=days - 1), datetime.min.time(), UTC)
    return [e for e in events if e["at"] >= lo]


def rows(result: dict[str, Any]) -> dict[tuple[str, ...], list[Any]]:
    return {tuple(r["dimensions"]): r["metrics"] for r in result["results"]}


def test_top_stats_match_reference(world: dict[str, Any]) -> None:
    got = world["query"](
        {
            "metrics": [
                "visitors",
                "visits",
                "pageviews",
                "events",
                "bounce_rate",
                "visit_duration",
                "views_per_visit",
            ],
            "date_range": "7d",
        }
    )
    evs = in_days(world["events"], 7)
    lo = evs and min(e["at"] for e in evs)
    visits = [v for v in world["visits"] if v[0] in evs]
    assert lo
    pageviews = sum(e["event_type"] == "pageview" for e in evs)
    bounces = sum(1 for v in visits if len(v) == 1 and v[0]["event_type"] == "pageview")
    dur = sum((v[-1]["at"] - v[0]["at"]).total_seconds() for v in visits)
    want = [len({e["visitor_id"] for e in evs}), len(visits), pageviews, len(evs),
            half_up(Decimal(100 * bounces) / len(visits), 1), int(half_up(Decimal(dur) / len(visits), 0)),
            half_up(Decimal(pageviews) / len(visits), 2)]  # fmt: skip
    assert got["results"][0]["metrics"] == want
    assert got["query"]["date_range"] == [
        (TODAY - timedelta(days=6)).isoformat(),
        TODAY.isoformat(),
    ]


def test_breakdown_by_source_with_percentage(world: dict[str, Any]) -> None:
    got = rows(
        world["query"](
            {
                "metrics": ["visitors", "visits", "percentage"],
                "dimensions": ["visit:source"],
                "date_range": "28d",
            }
        )
    )
    evs = world["events"]
    total = len({e["visitor_id"] for e in evs})
    want: dict[tuple[str, ...], list[Any]] = {}
    for source in {e["v_source"] for e in evs}:
        mine = [e for e in evs if e["v_source"] == source]
        visitors = len({e["visitor_id"] for e in mine})
        visits = len({e["visit"] for e in mine})
        want[(source,)] = [visitors, visits, half_up(Decimal(100 * visitors) / total, 1)]
    assert got == want


def test_breakdown_by_page_and_ordering(world: dict[str, Any]) -> None:
    result = world["query"](
        {
            "metrics": ["pageviews", "visitors", "visits"],
            "dimensions": ["event:page"],
            "date_range": "28d",
        }
    )
    evs = world["events"]
    want = {}
    for page in PAGES:
        mine = [e for e in evs if e["path"] == page]
        if mine:
            want[(page,)] = [
                sum(e["event_type"] == "pageview" for e in mine),
                len({e["visitor_id"] for e in mine}),
                len({e["visit"] for e in mine}),
            ]
    assert rows(result) == want
    order = [
        (-m[0], d) for d, m in ((tuple(r["dimensions"]), r["metrics"]) for r in result["results"])
    ]
    assert order == sorted(order), "default order: first metric descending, then dimension"


FilterCase = tuple[list[Any], Callable[[dict[str, Any]], bool], str]
FILTERS: list[FilterCase] = [
    (["is", "event:page", ["/pricing", "/docs"]], lambda e: e["path"] in ("/pricing", "/docs"), "event"),
    (["is_not", "event:page", ["/"]], lambda e: e["path"] != "/", "event"),
    (["contains", "event:page", ["blog"]], lambda e: "blog" in e["path"], "event"),
    (["contains_not", "event:page", ["blog", "p/"]], lambda e: "blog" not in e["path"] and "p/" not in e["path"], "event"),
    (["matches", "event:page", ["^/p/[0-9]+$"]], lambda e: re.match(r"^/p/[0-9]+$", e["path"]) is not None, "event"),
    (["matches_not", "event:page", ["^/p/"]], lambda e: not e["path"].startswith("/p/"), "event"),
    (["contains", "event:page", ["BLOG"], {"case_sensitive": False}], lambda e: "blog" in e["path"], "event"),
    (["is", "visit:source", ["Google"]], lambda e: e["v_source"] == "Google", "visit"),
    (["is", "visit:source", ["Direct / None"]], lambda e: e["v_source"] == "Direct / None", "visit"),
    (["is_not", "visit:country", ["US"]], lambda e: e["v_country"] != "US", "visit"),
    (["and", [["is", "visit:browser", ["Firefox"]], ["contains", "event:page", ["/p"]]]],
     lambda e: e["v_browser"] == "Firefox" and "/p" in e["path"], "event"),
    (["or", [["is", "visit:country", ["GB"]], ["is", "event:name", ["signup"]]]],
     lambda e: e["v_country"] == "GB" or e["event_type"] == "signup", "event"),
    (["not", ["or", [["is", "visit:source", ["Google"]], ["is", "visit:source", ["Twitter"]]]]],
     lambda e: e["v_source"] not in ("Google", "Twitter"), "visit"),
]  # fmt: skip


@pytest.mark.parametrize(("flt", "keep", "level"), FILTERS, ids=[str(f[0])[:60] for f in FILTERS])
def test_filters(
    world: dict[str, Any], flt: list[Any], keep: Callable[[dict[str, Any]], bool], level: str
) -> None:
    got = world["query"](
        {"metrics": ["pageviews", "visitors", "visits"], "filters": [flt], "date_range": "28d"}
    )
    evs = [e for e in world["events"] if keep(e)]
    # Event metrics count matching events; visits are those with at least one matching event.
    want = [sum(e["event_type"] == "pageview" for e in evs), len({e["visitor_id"] for e in evs}),
            len({e["visit"] for e in evs})]  # fmt: skip
    assert got["results"][0]["metrics"] == want
    if level == "visit":  # a visit filter keeps whole visits
        kept = {e["visit"] for e in evs}
        assert all(keep(e) for e in world["events"] if e["visit"] in kept)


def test_filter_values_are_parameters_not_sql(world: dict[str, Any]) -> None:
    for hostile in ["' OR 1=1 --", "x'); DROP TABLE events; --", "%", "\\", "\x00"]:
        got = world["query"](
            {
                "metrics": ["pageviews"],
                "filters": [["is", "event:page", [hostile]]],
                "date_range": "28d",
            }
        )
        assert got["results"][0]["metrics"] == [0]
    # The table is still there and whole.
    got = world["query"]({"metrics": ["pageviews"], "date_range": "28d"})
    assert got["results"][0]["metrics"] == [
        sum(e["event_type"] == "pageview" for e in world["events"])
    ]


def test_custom_property_breakdown_and_conversion_rates(world: dict[str, Any]) -> None:
    evs = world["events"]
    signups = [e for e in evs if e["event_type"] == "signup"]
    got = rows(
        world["query"](
            {
                "metrics": ["events", "visitors"],
                "dimensions": ["event:props:plan"],
                "filters": [["is", "event:name", ["signup"]]],
                "date_range": "28d",
            }
        )
    )
    want = {}
    for plan in {e["metadata"]["plan"] for e in signups}:
        mine = [e for e in signups if e["metadata"]["plan"] == plan]
        want[(plan,)] = [len(mine), len({e["visitor_id"] for e in mine})]
    assert got == want
    total = len({e["visitor_id"] for e in evs})
    converted = len({e["visitor_id"] for e in signups})
    got = world["query"](
        {
            "metrics": ["visitors", "conversion_rate"],
            "filters": [["is", "event:name", ["signup"]]],
            "date_range": "28d",
        }
    )
    assert got["results"][0]["metrics"] == [converted, half_up(Decimal(100 * converted) / total, 1)]
    got = rows(
        world["query"](
            {
                "metrics": ["group_conversion_rate"],
                "dimensions": ["visit:source"],
                "filters": [["is", "event:name", ["signup"]]],
                "date_range": "28d",
            }
        )
    )
    for (source,), (rate,) in got.items():
        base = {e["visitor_id"] for e in evs if e["v_source"] == source}
        conv = {e["visitor_id"] for e in signups if e["v_source"] == source}
        assert rate == half_up(Decimal(100 * len(conv)) / len(base), 1)


def test_entries_and_exits(world: dict[str, Any]) -> None:
    got = rows(
        world["query"](
            {"metrics": ["entries", "exits"], "dimensions": ["event:page"], "date_range": "28d"}
        )
    )
    visits = [v for v in world["visits"] if any(e["event_type"] == "pageview" for e in v)]
    for (page,), (entries, exits) in got.items():
        assert entries == sum(v[0]["v_entry"] == page for v in visits)
        assert exits == sum(v[0]["v_exit"] == page for v in visits)
    assert sum(m[0] for m in got.values()) == len(visits)


def test_errors_name_the_bad_part(world: dict[str, Any]) -> None:
    q = world["query"]
    cases = [
        ({"metrics": ["nope"], "date_range": "7d"}, "metrics"),
        ({"metrics": ["visitors"], "dimensions": ["visit:nope"], "date_range": "7d"}, "dimensions"),
        (
            {
                "metrics": ["visitors"],
                "filters": [["like", "event:page", ["/"]]],
                "date_range": "7d",
            },
            "filters[0]",
        ),
        (
            {"metrics": ["visitors"], "filters": [["is", "event:page", "/"]], "date_range": "7d"},
            "filters[0]",
        ),
        (
            {
                "metrics": ["visitors"],
                "filters": [["matches", "event:page", ["(unclosed"]]],
                "date_range": "7d",
            },
            "filters[0]",
        ),
        ({"metrics": ["visitors"], "date_range": "fortnight"}, "date_range"),
        ({"metrics": ["visitors"], "date_range": ["2026-01-10", "2026-01-01"]}, "to"),
        ({"metrics": ["visitors"], "date_range": ["yesterday", "today"]}, "date_range"),
        ({"metrics": ["bounce_rate"], "dimensions": ["event:name"], "date_range": "7d"}, "metrics"),
        ({"metrics": ["time_on_page"], "date_range": "7d"}, "metrics"),
        ({"metrics": ["visitors"], "date_range": "7d", "compare": "sometime"}, "compare"),
        (
            {"metrics": ["visitors"], "date_range": "7d", "order_by": [["pageviews", "desc"]]},
            "order_by",
        ),
        ({"metrics": ["visitors"], "date_range": "7d", "unknown_key": 1}, "unknown_key"),
    ]
    for body, field in cases:
        r = q(body, status=400)
        assert r["details"][0]["field"] == field, (body, r)


def test_tokens_see_only_their_site(world: dict[str, Any]) -> None:
    world["query"](
        {"metrics": ["visitors"], "date_range": "7d"}, tok=world["other_token"], status=404
    )
    world["query"](
        {"metrics": ["visitors"], "date_range": "7d", "site_id": "does-not-exist"}, status=404
    )
    world["query"]({"metrics": ["visitors"], "date_range": "7d"}, tok=None, status=401)
    world["query"]({"metrics": ["visitors"], "date_range": "7d"}, tok="fft_wrong", status=401)


def test_pagination_is_stable_and_complete(world: dict[str, Any]) -> None:
    body = {
        "metrics": ["visits"],
        "dimensions": ["visit:browser", "event:page"],
        "date_range": "28d",
    }
    whole = world["query"]({**body, "include": {"total_rows": True}})
    pages = []
    for offset in range(0, whole["meta"]["total_rows"], 4):
        pages += world["query"]({**body, "limit": 4, "offset": offset})["results"]
    assert pages == whole["results"]
    assert len({tuple(r["dimensions"]) for r in pages}) == whole["meta"]["total_rows"]


def test_comparison_maths(world: dict[str, Any]) -> None:
    got = world["query"](
        {
            "metrics": ["pageviews", "visitors"],
            "date_range": "day",
            "compare": "previous_period",
            "include": {"totals": True},
        }
    )
    evs = world["events"]

    def day(d: int) -> list[dict[str, Any]]:
        return [e for e in evs if e["at"].date() == TODAY - timedelta(days=d)]

    cur, prev = day(0), day(1)
    cpv, ppv = (
        sum(e["event_type"] == "pageview" for e in cur),
        sum(e["event_type"] == "pageview" for e in prev),
    )
    res = got["results"][0]
    assert res["metrics"][0] == cpv and res["comparison"]["metrics"][0] == ppv
    want_change = None if ppv == 0 else half_up((Decimal(cpv) - ppv) / ppv * 100, 1)
    assert res["comparison"]["change"][0] == want_change
    # Far in the past there is nothing: change is null, never a division by zero.
    got = world["query"](
        {
            "metrics": ["pageviews"],
            "date_range": ["2026-01-01", "2026-01-07"],
            "compare": "year_over_year",
        }
    )
    assert got["results"] == [] or got["results"][0]["comparison"]["change"] == [None]


def test_exit_page_as_dimension_and_filter(world: dict[str, Any]) -> None:
    got = rows(
        world["query"](
            {
                "metrics": ["visits", "visitors"],
                "dimensions": ["visit:exit_page"],
                "date_range": "28d",
            }
        )
    )
    evs = world["events"]
    want = {}
    for page in {e["v_exit"] for e in evs if e["v_exit"]}:
        mine = [e for e in evs if e["v_exit"] == page]
        want[(page,)] = [len({e["visit"] for e in mine}), len({e["visitor_id"] for e in mine})]
    assert got == want
    # An event metric by a visit-only dimension is refused, as Plausible refuses it.
    body = {"metrics": ["pageviews"], "dimensions": ["visit:exit_page"], "date_range": "28d"}
    assert "Event metric(s) `pageviews`" in world["query"](body, status=400)["error"]
    got = world["query"](
        {
            "metrics": ["pageviews"],
            "filters": [["is", "visit:exit_page", ["/docs"]]],
            "date_range": "28d",
        }
    )
    assert got["results"][0]["metrics"] == [
        sum(e["event_type"] == "pageview" for e in evs if e["v_exit"] == "/docs")
    ]
