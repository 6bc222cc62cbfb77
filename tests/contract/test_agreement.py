"""The same server on DuckDB and on ClickHouse answers every read endpoint the same, on
data no test chose: a random site (seed printed on failure; FOOTFALL_AGREEMENT_SEED
repeats one) sent to both through the collection API, in a shuffled order with retried
events and bots, then every /api/v1 report, funnel, visit list, timeline, journey,
realtime, export and a spread of /api/v2/query bodies read from both and compared.

Both apps share one metadata database (site, keys, salts, goals), so visitor and visit
ids agree and answers can be compared whole."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.meta.prefs import SitePrefs
from tests.conftest import ADMIN, _chdb_available, chdb_url, make_settings, require_services

SEED = int(os.environ.get("FOOTFALL_AGREEMENT_SEED") or random.SystemRandom().randrange(1 << 30))
AUTH = {"Authorization": f"Bearer {ADMIN}"}
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
]
REFS = [
    "",
    "https://www.google.com/search?q=x",
    "https://t.co/a",
    "https://news.ycombinator.com/",
    "https://example.com/blog",
]
PAGES = ["/", "/pricing", "/blog/a", "/blog/b", "/docs", "/docs/install", "/signup"]
IPS = ["8.8.8.8", "81.2.69.160", "5.9.0.1", "1.1.1.1"]


def random_events(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    events = []
    for n in range(rng.randint(60, 140)):
        visitor_ua, ip = rng.choice(UAS), rng.choice(IPS)
        at = now - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 1400))
        ref = rng.choice(REFS)
        query = rng.choice(["", "?utm_source=news&utm_medium=email", "?utm_campaign=spring"])
        user = f"u{rng.randint(1, 8)}" if rng.random() < 0.3 else None
        for i in range(rng.choice([1, 1, 2, 3, 5, 8])):
            name = (
                "pageview"
                if i == 0 or rng.random() < 0.6
                else rng.choice(["Signup", "Download", "Purchase", "engagement"])
            )
            page = rng.choice(PAGES)
            e: dict[str, Any] = {
                "event_type": name,
                "path": page,
                "url": f"https://example.com{page}{query if i == 0 else ''}",
                "referrer": ref if i == 0 else "",
                "user_agent": visitor_ua,
                "ip": ip,
                "timestamp": at.isoformat(),
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "visitor_id": f"v{n % 50}",
            }
            if user:
                e["user_id"] = user
            if name == "Purchase":
                e["revenue"] = round(rng.uniform(1, 300), 2)
                e["metadata"] = {"plan": rng.choice(["pro", "team"])}
            if name == "engagement":
                e.update(engaged_ms=rng.randint(1000, 90_000), scroll_depth=rng.randint(0, 100))
            if name == "pageview" and rng.random() < 0.7:
                e["load_time_ms"] = rng.randint(50, 3000)
            events.append(e)
            at += timedelta(minutes=rng.choice([1, 3, 12, 29, 31, 45]))
    rng.shuffle(events)  # arrival order is not event order
    events += rng.sample(events, len(events) // 10)  # client retries
    return events


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not _chdb_available():
        if require_services():
            pytest.fail("chdb not installed")
        pytest.skip("chdb not installed: the ClickHouse store is not compared")
    root = Path(tmp_path_factory.mktemp("agree"))
    meta = f"sqlite:///{root / 'meta.sqlite3'}"
    stores = {"duckdb": "", "chdb": chdb_url("agree")}
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(SEED)
    with contextlib.ExitStack() as stack:
        clients = {}
        for name, url in stores.items():
            app = create_app(
                make_settings(
                    root / name,
                    store_url=url,
                    database_url=meta,
                    max_past_days=40,
                    flush_interval_ms=20,
                )
            )
            clients[name] = (stack.enter_context(TestClient(app, client=("203.0.113.9", 1))), app)
        first, app = clients["duckdb"]
        site = first.post(
            "/api/site/create", json={"name": "A", "domains": ["example.com"]}, headers=AUTH
        ).json()
        token = first.post("/api/tokens", json={"site_id": site["site_id"]}, headers=AUTH).json()[
            "token"
        ]
        prefs = SitePrefs(app.state.services.meta)
        goals = [
            prefs.create_goal(site["site_id"], n, "event", n).id for n in ("Signup", "Purchase")
        ]
        funnel = prefs.create_funnel(site["site_id"], "Buy", goals)
        events = random_events(rng, now)
        for client, app in clients.values():
            for i in range(0, len(events), 50):
                r = client.post(
                    "/api/events",
                    json={"events": events[i : i + 50]},
                    headers={"x-api-key": site["api_key"]},
                )
                assert r.status_code == 202, r.text
                # One round per request on both stores: a visit's id comes from the round
                # that first stored it, so both must see the same rounds.
                assert app.state.services.writer.wait_idle(30)
        yield {
            "clients": {k: c for k, (c, _) in clients.items()},
            "site": site["site_id"],
            "token": token,
            "funnel": funnel.id,
            "events": events,
        }


TIMING = {"took_ms", "processing_time_ms", "timings", "elapsed", "generated_at", "took"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def both(apps: dict[str, Any], method: str, path: str, **kw: Any) -> tuple[Any, Any]:
    out = []
    for client in apps["clients"].values():
        headers = {"Authorization": f"Bearer {apps['token']}"}
        r = client.request(method, path, headers=headers, **kw)
        assert r.status_code == 200, f"seed {SEED}: {path} {r.text}"
        out.append(_clean(r.json()) if "json" in r.headers.get("content-type", "") else r.text)
    return out[0], out[1]


REPORTS = [
    "summary",
    "trends",
    "pages",
    "devices",
    "sources",
    "countries",
    "events",
    "realtime",
    "performance",
    "funnels",
    "sessions",
]
PERIODS = [{"period": "30d"}, {"period": "7d"}, {"period": "day"}, {"period": "month"}]


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("period", PERIODS, ids=lambda p: p["period"])
def test_v1_reports_agree(apps: dict[str, Any], report: str, period: dict[str, str]) -> None:
    duck, ch = both(apps, "GET", f"/api/v1/{report}", params={"site_id": apps["site"], **period})
    assert duck == ch, f"seed {SEED}"


def test_filtered_reports_funnel_visits_and_journeys_agree(apps: dict[str, Any]) -> None:
    site = apps["site"]
    flt = '[["is", "visit:source", ["Google", "Twitter"]]]'
    for path, params in [
        ("/api/v1/pages", {"filters": flt, "kind": "entry"}),
        ("/api/v1/summary", {"filters": '[["contains", "event:page", ["blog"]]]'}),
        ("/api/v1/funnel", {"funnel_id": apps["funnel"]}),
        ("/api/v1/funnel", {"funnel_id": apps["funnel"], "filters": flt}),
        (
            "/api/v1/funnel",
            {
                "funnel_id": apps["funnel"],
                "breakdown": "visit:browser",
                "compare": "previous_period",
            },
        ),  # fmt: skip
        ("/api/v1/journey", {"user_id": "u1"}),
        ("/api/v1/journey", {"visitor_id": "0"}),
    ]:
        duck, ch = both(apps, "GET", path, params={"site_id": site, "period": "30d", **params})
        assert duck == ch, f"seed {SEED}: {path} {params}"
    duck, ch = both(
        apps, "GET", "/api/v1/sessions", params={"site_id": site, "period": "30d", "limit": 500}
    )
    assert duck == ch, f"seed {SEED}"
    for visit in (
        duck["data"]["sessions"][:20] if isinstance(duck["data"], dict) else duck["data"][:20]
    ):
        sid = visit.get("session_id") or visit.get("id")
        a, b = both(apps, "GET", f"/api/v1/sessions/{sid}", params={"site_id": site})
        assert a == b, f"seed {SEED}: visit {sid}"


QUERIES: list[dict[str, Any]] = [
    {
        "metrics": [
            "visitors",
            "visits",
            "pageviews",
            "views_per_visit",
            "bounce_rate",
            "visit_duration",
            "events",
        ]
    },
    {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["event:page"],
        "order_by": [["pageviews", "desc"]],
    },
    {"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source", "visit:device"]},
    {
        "metrics": ["visitors", "visits"],
        "dimensions": ["time:day"],
        "include": {"time_labels": True},
    },
    {"metrics": ["visitors"], "dimensions": ["time:hour"], "date_range": "day"},
    {
        "metrics": ["visitors", "conversion_rate", "events"],
        "dimensions": ["visit:source"],
        "filters": [["is", "event:name", ["Signup"]]],
    },
    {"metrics": ["visitors", "events"], "dimensions": ["event:name"]},
    {
        "metrics": ["total_revenue", "average_revenue"],
        "filters": [["is", "event:name", ["Purchase"]]],
        "dimensions": ["visit:country"],
    },
    {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["visit:entry_page"],
        "filters": [["matches", "event:page", ["^/docs"]]],
    },
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:exit_page"]},
    {
        "metrics": ["visitors"],
        "dimensions": ["event:props:plan"],
        "filters": [["is", "event:name", ["Purchase"]]],
    },
    {"metrics": ["time_on_page", "scroll_depth"], "dimensions": ["event:page"]},
    {
        "metrics": ["visitors", "visits"],
        "dimensions": ["visit:utm_source", "visit:utm_campaign", "visit:channel"],
    },
    {
        "metrics": ["visitors", "pageviews"],
        "filters": [["not", ["is", "visit:browser", ["Chrome"]]]],
        "compare": "previous_period",
    },
    {
        "metrics": ["visitors"],
        "dimensions": ["visit:browser", "visit:os"],
        "pagination": {"limit": 2, "offset": 1},
    },
    {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["visit:referrer"],
        "filters": [["contains", "visit:referrer", ["t.co", "google"]]],
    },
]


@pytest.mark.parametrize("n", range(len(QUERIES)))
def test_v2_queries_agree(apps: dict[str, Any], n: int) -> None:
    body = {"site_id": apps["site"], "date_range": "30d", **QUERIES[n]}
    duck, ch = both(apps, "POST", "/api/v2/query", json=body)
    assert duck == ch, f"seed {SEED}: {body}"


def test_exports_agree(apps: dict[str, Any]) -> None:
    duck, ch = both(
        apps,
        "GET",
        "/api/v1/export",
        params={"site_id": apps["site"], "period": "30d", "format": "csv"},
    )
    rows = [sorted(csv.reader(io.StringIO(text))) for text in (duck, ch)]
    assert rows[0] == rows[1] and len(rows[0]) > 10, f"seed {SEED}"


PRODUCT = [
    ("/api/v1/retention", {"interval": "week"}),
    ("/api/v1/retention", {"interval": "day"}),
    (
        "/api/v1/retention",
        {"interval": "month", "filters": '[["is", "visit:browser", ["Firefox"]]]'},
    ),
    ("/api/v1/paths", {"page": "/pricing"}),
    ("/api/v1/paths", {"page": "/", "direction": "previous"}),
    ("/api/v1/paths", {"page": "/docs", "filters": '[["is", "visit:source", ["Google"]]]'}),
    ("/api/v1/paths/tree", {"page": "/"}),
    ("/api/v1/returning", {"period": "7d"}),
    ("/api/v1/paths/tree", {"page": "/blog/a", "depth": "3", "limit": "2"}),
]


@pytest.mark.parametrize(("path", "params"), PRODUCT)
def test_product_reports_agree(apps: dict[str, Any], path: str, params: dict[str, str]) -> None:
    """Retention cohorts and paths (footfall/query/retention.py, paths.py)."""
    query = {"site_id": apps["site"], "period": "30d", **params}
    duck, ch = both(apps, "GET", path, params=query)
    assert duck == ch, f"seed {SEED}: {path} {params}"
    if path == "/api/v1/retention" and "filters" not in params:
        assert duck["data"]["eligible_visitors"] > 0  # the visitors all carry lasting ids


def test_goal_breakdowns_agree(apps: dict[str, Any]) -> None:
    body = {"site_id": apps["site"], "date_range": "30d", "dimensions": ["event:goal"],
            "metrics": ["visitors", "events", "conversion_rate", "total_revenue"]}  # fmt: skip
    duck, ch = both(apps, "POST", "/api/v2/query", json=body)
    assert duck == ch and duck["results"], f"seed {SEED}"
