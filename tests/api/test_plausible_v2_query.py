"""POST /api/v2/query answers as Plausible's Stats API v2 does where the two define a
figure differently (issue 26), on both stores: behavioural filters, visit metrics by page,
bounce rate under a page filter, hostname filters in source breakdowns, property filters
on events lacking the property, scroll depth without data, a partial first week's label,
and Plausible's value names.

The fixture is five visits built here; every expected number is counted by hand from it
(the comments say how), from Plausible's documented definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

MAC_CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/120.0.6099.109 Safari/537.36")  # fmt: skip
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
          "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")  # fmt: skip
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
DAY = BASE.date()
RANGE = [(DAY - timedelta(days=1)).isoformat(), (DAY + timedelta(days=1)).isoformat()]


def ev(who: str, minute: float, kind: str = "pageview", path: str = "/", **extra: Any) -> dict[str, Any]:  # fmt: skip
    host = extra.pop("host", "example.com")
    at = BASE + timedelta(minutes=minute)
    return {"event_type": kind, "path": path, "url": f"https://{host}{path}", "visitor_id": who,
            "timestamp": at.isoformat(), "user_agent": extra.pop("ua", MAC_CHROME), **extra}  # fmt: skip


# a: enters / (direct), views /docs on the blog host, signs up (plan pro): 2 min, no bounce
# b: /docs only, then an engagement event 10 s later (scroll 50): a bounce of 0 s
# c: enters /docs on the blog host from Google, then /: 3 min, no bounce
# d: enters / from Twitter, signs up without a plan a minute later: 1 min, no bounce
# e: /pricing only, on an iPhone: a bounce
EVENTS = [
    ev("a", 0), ev("a", 1, path="/docs", host="blog.example.com"),
    ev("a", 2, "Signup", "/docs", host="blog.example.com", metadata={"plan": "pro"}),
    ev("b", 0, path="/docs"),
    ev("b", 10 / 60, "engagement", "/docs", engaged_ms=10_000, scroll_depth=50),
    ev("c", 0, path="/docs", host="blog.example.com", referrer="https://www.google.com/"),
    ev("c", 3),
    ev("d", 0, referrer="https://twitter.com/someone"), ev("d", 1, "Signup"),
    ev("e", 0, path="/pricing", ua=IPHONE),
]  # fmt: skip

Ask = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def ask(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Ask]:
    app = create_app(make_settings(Path(tmp_path_factory.mktemp("pv2")), store_url=store_url))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        site = client.post("/api/site/create", headers=auth,
                           json={"name": "P", "domains": ["example.com", "blog.example.com"]}).json()  # fmt: skip
        r = client.post("/api/events", json={"events": EVENTS}, headers={"x-api-key": site["api_key"]})  # fmt: skip
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)

        def query(status: int = 200, **body: Any) -> dict[str, Any]:
            payload = {"site_id": "example.com", "date_range": RANGE, **body}
            r = client.post("/api/v2/query", json=payload, headers=auth)
            assert r.status_code == status, r.text
            return dict(r.json())

        yield query


def rows(result: dict[str, Any]) -> dict[tuple[str, ...], list[Any]]:
    return {tuple(r["dimensions"]): r["metrics"] for r in result["results"]}


def total(result: dict[str, Any]) -> list[Any]:
    return list(result["results"][0]["metrics"])


def test_has_done_and_has_not_done_choose_visits_by_their_events(ask: Ask) -> None:
    signed = ["has_done", ["is", "event:name", ["Signup"]]]
    assert total(ask(metrics=["visitors", "pageviews"], filters=[signed])) == [2, 3]  # a, d
    assert total(ask(metrics=["visitors"], filters=[["has_not_done", signed[1]]])) == [3]
    # combined with an event filter: pageviews of /docs in visits that signed up (a's one)
    body = {"filters": [signed, ["is", "event:page", ["/docs"]]], "metrics": ["pageviews"]}
    assert total(ask(**body)) == [1]
    # by a visit dimension, on the visits table too
    got = rows(ask(metrics=["visits"], dimensions=["visit:source"], filters=[signed]))
    assert got == {("Direct / None",): [1], ("Twitter",): [1]}


def test_visit_metrics_by_page_are_those_of_the_visits_entering_it(ask: Ask) -> None:
    got = rows(
        ask(metrics=["visitors", "bounce_rate", "visit_duration"], dimensions=["event:page"])
    )
    # visitors viewed the page (a, c, d viewed /); bounce rate and duration are over the
    # visits that entered there: / by a (120 s) and d (60 s); /docs by b (bounce, 0 s)
    # and c (180 s); /pricing by e (bounce, 0 s)
    assert got == {("/",): [3, 0.0, 90], ("/docs",): [3, 50.0, 90], ("/pricing",): [1, 100.0, 0]}
    # a page filter in the same query is read on the entry page for those figures
    got = rows(ask(metrics=["bounce_rate"], dimensions=["event:page"],
                   filters=[["is", "event:page", ["/docs"]]]))  # fmt: skip
    assert got == {("/docs",): [50.0]}


def test_visits_of_a_page_are_the_visits_that_viewed_it(ask: Ask) -> None:
    # visits is an event metric by page (Plausible's): / was viewed in a, c, d; /docs in
    # a, b, c; /pricing in e. The bounce rate beside it stays over the entering visits.
    got = rows(ask(metrics=["visits", "bounce_rate"], dimensions=["event:page"]))
    assert got == {("/",): [3, 0.0], ("/docs",): [3, 50.0], ("/pricing",): [1, 100.0]}


def test_bounce_rate_under_a_page_filter_is_over_visits_entering_there(ask: Ask) -> None:
    # /docs was viewed in visits a, b, c; b and c entered there, and b bounced.
    got = total(ask(metrics=["visits", "bounce_rate"], filters=[["is", "event:page", ["/docs"]]]))
    assert got == [3, 50.0]
    # nobody entered on a page only viewed later: a rate of 0, not of the viewing visits
    got = ask(metrics=["bounce_rate"], filters=[["is", "event:page", ["/nowhere"]]])
    assert total(got) == [0.0]


def test_a_hostname_filter_keeps_visits_that_entered_there_by_source(ask: Ask) -> None:
    blog = ["is", "event:hostname", ["blog.example.com"]]
    # a viewed the blog but entered on example.com: only c (from Google) is listed
    got = rows(ask(metrics=["visitors"], dimensions=["visit:source"], filters=[blog]))
    assert got == {("Google",): [1]}
    # without a visit breakdown the filter keeps every visit with a blog event
    assert total(ask(metrics=["visitors"], filters=[blog])) == [2]
    got = rows(ask(metrics=["visitors"], dimensions=["visit:entry_page_hostname"]))
    assert got == {("example.com",): [4], ("blog.example.com",): [1]}
    got = ask(metrics=["visitors"], filters=[["is", "visit:entry_page_hostname", ["blog.example.com"]]])  # fmt: skip
    assert total(got) == [1]
    # a left from the blog (/docs), c from example.com (/): by exit page, only a
    got = rows(ask(metrics=["visitors"], dimensions=["visit:exit_page"], filters=[blog]))
    assert got == {("/docs",): [1]}
    got = rows(ask(metrics=["visits"], dimensions=["visit:exit_page_hostname"]))
    assert got == {("example.com",): [4], ("blog.example.com",): [1]}


def test_pattern_and_negated_property_filters_skip_events_without_it(ask: Ask) -> None:
    # only a's Signup carries "plan" (pro); 9 events in all (b's engagement is none)
    for flt, want in (
        (["contains_not", "event:props:plan", ["free"]], 1),
        (["matches", "event:props:plan", ["^p"]], 1),
        (["matches_not", "event:props:plan", ["^x"]], 1),
        (["contains", "event:props:plan", ["r"]], 1),
        (["is_not", "event:props:plan", ["free"]], 9),  # is_not keeps events without it
        (["is", "event:props:plan", ["(none)"]], 8),
    ):
        assert total(ask(metrics=["events"], filters=[flt])) == [want], flt


def test_scroll_depth_is_null_where_no_pageview_reported_one(ask: Ask) -> None:
    got = rows(ask(metrics=["visitors", "scroll_depth"], dimensions=["event:page"]))
    assert got == {("/",): [3, None], ("/docs",): [3, 50], ("/pricing",): [1, None]}
    got = ask(metrics=["scroll_depth"], filters=[["is", "event:page", ["/pricing"]]])
    assert total(got) == [None]


def test_a_partial_first_week_is_labelled_with_the_range_start(ask: Ask) -> None:
    first = DAY if DAY.weekday() else DAY - timedelta(days=1)  # never a Monday
    last = first + timedelta(days=13)
    got = ask(metrics=["visitors"], dimensions=["time:week"], date_range=[first.isoformat(),
              last.isoformat()], include={"time_labels": True})  # fmt: skip
    monday = first - timedelta(days=first.weekday())
    want = [first] + [monday + timedelta(days=7 * i) for i in (1, 2) if monday + timedelta(days=7 * i) <= last]  # fmt: skip
    assert got["meta"]["time_labels"] == [d.isoformat() for d in want]
    # every result's label is one of them; the five visitors are all counted
    assert {k[0] for k in rows(got)} <= set(got["meta"]["time_labels"])
    assert sum(m[0] for m in rows(got).values()) == 5


def test_value_names_are_plausibles(ask: Ask) -> None:
    got = rows(ask(metrics=["visitors"], dimensions=["visit:device"]))
    assert got == {("Desktop",): [4], ("Mobile",): [1]}
    assert rows(ask(metrics=["visitors"], dimensions=["visit:os"])) == {
        ("Mac",): [4],
        ("iOS",): [1],
    }
    got = rows(ask(metrics=["visitors"], dimensions=["visit:browser", "visit:browser_version"]))
    assert got == {("Chrome", "120.0"): [4], ("Safari", "17.1"): [1]}
    # a filter copied from a Plausible client matches
    assert total(ask(metrics=["visitors"], filters=[["is", "visit:device", ["Mobile"]]])) == [1]
    assert total(ask(metrics=["visitors"], filters=[["is", "visit:os", ["Mac"]]])) == [4]
    # an empty visit value is "(not set)", in results and in filters
    got = rows(ask(metrics=["visitors"], dimensions=["visit:utm_source"]))
    assert got == {("(not set)",): [5]}
    got = ask(metrics=["visitors"], filters=[["is", "visit:region", ["(not set)"]]])
    assert total(got) == [5]


def test_engagement_events_do_not_extend_a_visit(ask: Ask) -> None:
    # b: a pageview and an engagement event 10 s later is a visit of 0 s
    got = ask(metrics=["visit_duration", "bounce_rate"], filters=[["is", "visit:entry_page", ["/docs"]]])  # fmt: skip
    assert total(got) == [90, 50.0]  # (0 + 180) / 2


def test_a_week_label_never_precedes_the_range(ask: Ask) -> None:
    got = ask(metrics=["visitors"], dimensions=["time:week"], date_range=RANGE)
    assert all(k[0] >= RANGE[0] for k in rows(got)), got
    assert date.fromisoformat(RANGE[0]) <= DAY
