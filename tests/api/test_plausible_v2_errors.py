"""POST /api/v2/query refuses what Plausible's Stats API v2 refuses, with the same words in
``error`` (a Plausible client shows that string), and keeps Footfall's ``details`` naming
the field. The messages are those Plausible's own API tests expect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

Post = Callable[[dict[str, Any]], Any]


@pytest.fixture(scope="module")
def post(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Post]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("pv2e"))))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        r = client.post("/api/site/create", json={"name": "E", "domains": ["e.example"]}, headers=auth)  # fmt: skip
        assert r.status_code in (200, 201), r.text

        def send(body: dict[str, Any]) -> Any:
            full = {"site_id": "e.example", "date_range": "all", **body}
            return client.post("/api/v2/query", json=full, headers=auth)

        yield send


REFUSED = [
    # the seven refusals Footfall used to accept
    ({"metrics": ["pageviews"], "filters": [["is", "visit:country", ["USA"]]]},
     "Invalid visit:country filter, visit:country needs to be a valid 2-letter country code."),
    ({"metrics": ["views_per_visit"], "filters": [["is", "event:page", ["/something"]]]},
     "Metric `views_per_visit` cannot be queried with a filter on `event:page`."),
    ({"metrics": ["visitors"], "filters": [["is", "visit:os_version", [123]]]},
     "Invalid filter '[\"is\", \"visit:os_version\", [123]]'."),
    ({"metrics": ["visitors"], "filters": [["not", ["is", "event:hostname", ["a.example"]]]]},
     "Invalid filters. Dimension `event:hostname` can only be filtered at the top level."),
    ({"metrics": ["visitors"], "filters": [["matches", "event:hostname", ["a.example"], {"case_sensitive": False}]]},
     "#/filters/0: Invalid filter [\"matches\", \"event:hostname\", [\"a.example\"], %{\"case_sensitive\" => false}]"),
    ({"metrics": ["scroll_depth"], "filters": [["or", [["is", "event:page", ["/a"]], ["is", "event:page", ["/b"]]]]]},
     "Metric `scroll_depth` can only be queried with event:page filters or dimensions."),
    ({"metrics": ["events"], "dimensions": ["visit:exit_page"]},
     "Event metric(s) `events` cannot be queried along with session dimension(s) `visit:exit_page`"),
    # and the others Plausible's tests name
    ({"metrics": ["visitors", "baa"]}, '#/metrics/1: Invalid metric "baa"'),
    ({"metrics": ["visitors"], "dimensions": ["badproperty"]},
     '#/dimensions/0: Invalid dimension "badproperty"'),
    ({"metrics": ["visitors"], "dimensions": ["event:props:"]},
     '#/dimensions/0: Invalid dimension "event:props:"'),
    ({"metrics": ["visitors"], "date_range": "bad_period"},
     '#/date_range: Invalid date range "bad_period"'),
    ({"metrics": ["views_per_visit", "visitors", "visitors"]},
     "#/metrics: Expected items to be unique but they were not."),
    ({"metrics": ["visitors", "bounce_rate"], "dimensions": ["event:name"]},
     "Session metric(s) `bounce_rate` cannot be queried along with event dimension(s) `event:name`"),
    ({"metrics": ["conversion_rate"], "dimensions": ["event:page"]},
     "Metric `conversion_rate` can only be queried with event:goal filters or dimensions."),
    ({"metrics": ["visitors"], "include": {"time_labels": True}},
     "Invalid include.time_labels: requires a time dimension."),
    ({"metrics": ["visitors"], "filters": [["exists?", "event:name", ["foo"]]]},
     '#/filters/0: Invalid filter ["exists?", "event:name", ["foo"]]'),
    ({"metrics": ["visitors"], "filters": [["has_done", ["is", "visit:source", ["Google"]]]]},
     "Invalid filters. Behavioral filters (has_done, has_not_done) can only be used with event dimension filters."),
    ({"metrics": ["visitors"], "filters": [["has_done", ["has_not_done", ["is", "event:name", ["a"]]]]]},
     "Invalid filters. Behavioral filters (has_done, has_not_done) cannot be nested."),
    ({"metrics": ["visitors"], "filters": [["is", "segment", [1]]]},
     '#/filters/0: Invalid filter ["is", "segment", [1]]'),
    ({"metrics": ["visitors"], "filters": [["is", "badproperty", ["bar"]]]},
     '#/filters/0: Invalid filter ["is", "badproperty", ["bar"]]'),
    # a goal filter naming a goal the site does not have (this one has none)
    ({"metrics": ["visitors"], "dimensions": ["visit:browser"], "filters": [["is", "event:goal", ["Register"]]]},
     "The goal `Register` is not configured for this site. Find out how to configure goals here: https://plausible.io/docs/stats-api#filtering-by-goals"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), REFUSED)
def test_plausibles_refusals_with_its_messages(post: Post, body: dict[str, Any], message: str) -> None:  # fmt: skip
    r = post(body)
    assert r.status_code == 400, r.text
    got = r.json()
    assert got["error"] == message
    assert got["details"][0]["field"] in ("metrics", "dimensions", "filters", "date_range",
                                          "include", "filters[0]")  # fmt: skip


ACCEPTED = [
    {"metrics": ["visitors"], "filters": [["is", "visit:city", [2988507, 2643743]]]},  # city ids
    {"metrics": ["visitors"], "filters": [["contains", "visit:country", ["U"]]]},
    {"metrics": ["scroll_depth"], "filters": [["is", "event:page", ["/a"]]]},
    {"metrics": ["bounce_rate", "visit_duration"], "dimensions": ["event:page"]},
    {"metrics": ["visitors"], "filters": [["has_done", ["is", "event:name", ["Signup"]]]]},
    {"metrics": ["visitors"], "filters": [["is", "event:page", ["/a"], {"case_sensitive": False}]]},
    {"metrics": ["pageviews"], "dimensions": ["visit:entry_page"]},  # kept: see docs/design.md
    {"metrics": ["visitors"], "filters": [["contains", "event:goal", ["Reg"]]]},  # no goal: 0
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_what_plausible_accepts_is_answered(post: Post, body: dict[str, Any]) -> None:
    r = post(body)
    assert r.status_code == 200, r.text


def test_an_unreadable_body_and_a_missing_site_have_an_error_string(post: Post) -> None:
    r = post({"metrics": "visitors"})
    assert r.status_code == 400 and isinstance(r.json()["error"], str) and r.json()["error"]
    r = post({"site_id": "nowhere.example", "metrics": ["visitors"]})
    assert r.status_code == 404 and isinstance(r.json()["error"], str)
