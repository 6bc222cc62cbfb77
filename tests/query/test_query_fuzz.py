"""A short property test of POST /api/v2/query: whatever the body, the answer is a 200 or a
JSON 4xx naming a field, never a 5xx. Bodies are mostly valid queries (every metric,
dimension, operator, range and comparison, so the runner and the store see them) and
sometimes hostile ones. A longer run of the same strategy found the comparison KeyError
of total_revenue; raise max_examples locally to search further."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.query.dimensions import DIMENSIONS
from footfall.query.metrics import QUERY_METRICS
from footfall.query.model import NAMED_RANGES, OPERATORS
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}", "content-type": "application/json"}
TIME = ["time", "time:minute", "time:hour", "time:day", "time:week", "time:month"]
DIMS = [*DIMENSIONS, *TIME, "event:props:plan"]
TEXT = st.sampled_from(["/", "/a", "^/a", ".*", "(?i)A", "(?=a)", "(", "", "é", "\x00", "buy",
                        "Direct / None", "(none)", "-1", "=1"])  # fmt: skip
DAY = st.dates(date(2025, 1, 1), date(2027, 1, 1)).map(str)
ANY_DAY = st.one_of(DAY, st.dates().map(str), st.sampled_from(["2026-02-30", "x", "20261206"]))


def condition() -> st.SearchStrategy[list[Any]]:
    dims = st.sampled_from([d for d in DIMS if not d.startswith("time")])
    modifiers = st.sampled_from([{}, {"case_sensitive": False}])
    return st.tuples(st.sampled_from(OPERATORS), dims, st.lists(TEXT, min_size=1, max_size=3),
                     modifiers).map(list)  # fmt: skip


FILTER = st.recursive(condition(), lambda c: st.one_of(
    st.tuples(st.sampled_from(["and", "or"]), st.lists(c, min_size=1, max_size=3)).map(list),
    st.tuples(st.just("not"), c).map(list)), max_leaves=5)  # fmt: skip
BODY = st.fixed_dictionaries(
    {
        "metrics": st.lists(st.sampled_from(list(QUERY_METRICS)), min_size=1, max_size=4, unique=True),
        "date_range": st.one_of(st.sampled_from(NAMED_RANGES),
                                st.lists(ANY_DAY, min_size=2, max_size=2).map(sorted)),
    },
    optional={
        "dimensions": st.lists(st.sampled_from(DIMS), max_size=2, unique=True),
        "filters": st.lists(FILTER, max_size=3),
        "compare": st.sampled_from(["previous_period", "year_over_year"]),
        "include": st.fixed_dictionaries({"time_labels": st.booleans(), "totals": st.booleans()}),
        "limit": st.integers(0, 5), "offset": st.integers(-1, 3), "date": ANY_DAY,
    },
)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("fuzz"))))
    with TestClient(app, raise_server_exceptions=False) as client:
        created = client.post("/api/site/create", json={"name": "F", "domains": ["f.org"]},
                              headers=AUTH).json()  # fmt: skip
        now = datetime.now(UTC)
        pages = [("pageview", "/"), ("pageview", "/a"), ("buy", "/b"), ("engagement", "/a")]
        events = [{"event_type": name, "path": path, "url": f"https://f.org{path}?utm_source=x",
                   "visitor_id": f"v{i % 5}", "timestamp": (now - timedelta(hours=7 * i)).isoformat(),
                   "referrer": "https://google.com/", "metadata": {"plan": "pro"}, "load_time_ms": 90 + i,
                   **({"revenue": 2.5} if name == "buy" else {})}
                  for i, (name, path) in enumerate(pages * 6)]  # fmt: skip
        r = client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": created["api_key"]}
        )
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)
        yield client, created["site_id"]


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(body=BODY)
def test_any_query_is_answered_or_refused_naming_a_field(
    site: tuple[TestClient, str], body: dict[str, Any]
) -> None:
    client, site_id = site
    r = client.post("/api/v2/query", content=json.dumps({"site_id": site_id, **body}), headers=AUTH)
    assert r.status_code < 500, (r.status_code, r.text, body)
    if r.status_code != 200:
        assert r.status_code == 400 and r.json()["details"][0]["field"], (r.text, body)
