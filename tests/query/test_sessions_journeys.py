"""Sessions list (keyset pagination), one visit's timeline and journeys, against visits
built by hand and sent through the collection API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings
from tests.query.test_reports import CHROME, World, build, sessionize


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[dict[str, Any]]:
    app = create_app(
        make_settings(Path(tmp_path_factory.mktemp("s")), store_url=store_url, flush_interval_ms=20)
    )
    with TestClient(app) as client:
        w = World(client, app)
        events = build(seed=11, visits=40)
        visits = sessionize(events)
        assert len({v[0]["at"] for v in visits}) == len(visits), (
            "starts must be unique to match visits"
        )
        w.send(events)
        w.send(
            [
                {
                    "event_type": "pageview",
                    "path": "/x",
                    "at": datetime.now(UTC) - timedelta(hours=2),
                    "visitor_id": "stranger",
                    "ip": "8.8.8.8",
                    "user_agent": CHROME,
                }
            ],
            key=w.other_key,
        )
        yield {
            "w": w,
            "events": events,
            "visits": visits,
            "by_start": {iso(v[0]["at"]): v for v in visits},
        }


def all_pages(w: World, limit: int, **params: Any) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        page = w.data(
            "/api/v1/sessions",
            period="30d",
            limit=str(limit),
            **({"cursor": cursor} if cursor else {}),
            **params,
        )
        assert len(page["sessions"]) <= limit
        out += page["sessions"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def expected(v: list[dict[str, Any]]) -> dict[str, Any]:
    pages = [e["path"] for e in v if e["event_type"] == "pageview"]
    return {
        "start": iso(v[0]["at"]),
        "end": iso(v[-1]["at"]),
        "duration": round((v[-1]["at"] - v[0]["at"]).total_seconds()),
        "pageviews": len(pages),
        "events": len(v),
        "entry_page": pages[0] if pages else None,
        "exit_page": pages[-1] if pages else None,
        "source": v[0]["v_source"],
        "device": v[0]["v_device"],
        "browser": v[0]["v_browser"],
        "country": v[0]["v_country"],
        "user_id": v[0]["user_id"],
    }


def test_sessions_newest_first_across_pages(world: dict[str, Any]) -> None:
    got = all_pages(world["w"], 7)
    assert [s["start"] for s in got] == [iso(v[0]["at"]) for v in reversed(world["visits"])]
    for s in got:
        want = expected(world["by_start"][s["start"]])
        assert {k: s[k] for k in want} == want
        assert s["visitor_id"].isdigit() and s["session_id"].isdigit()
    assert len({s["session_id"] for s in got}) == len(got)


SESSION_FILTERS = {
    "source": ([["is", "visit:source", ["Google"]]], lambda v: v[0]["v_source"] == "Google"),
    "page": (
        [["is", "event:page", ["/pricing"]]],
        lambda v: any(e["path"] == "/pricing" for e in v),
    ),
    "page-regex-and-source": (
        [["matches", "event:page", ["^/blog"]], ["is_not", "visit:source", ["Twitter"]]],
        lambda v: any(e["path"].startswith("/blog") for e in v) and v[0]["v_source"] != "Twitter",
    ),
    "signup": (
        [["is", "event:name", ["signup"]]],
        lambda v: any(e["event_type"] == "signup" for e in v),
    ),
}


@pytest.mark.parametrize("name", SESSION_FILTERS)
def test_sessions_list_applies_filters(world: dict[str, Any], name: str) -> None:
    filters, keep = SESSION_FILTERS[name]
    got = all_pages(world["w"], 5, filters=json.dumps(filters))
    want = [iso(v[0]["at"]) for v in reversed(world["visits"]) if keep(v)]
    assert 0 < len(want) < len(world["visits"]), "the data must make the filter matter"
    assert [s["start"] for s in got] == want


def test_new_sessions_never_shift_later_pages(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, flush_interval_ms=20))
    with TestClient(app) as client:
        w = World(client, app)
        now = datetime.now(UTC).replace(microsecond=0)
        old = [
            {
                "event_type": "pageview",
                "path": f"/{i}",
                "at": now - timedelta(hours=2, minutes=i),
                "visitor_id": f"old{i}",
                "ip": "8.8.8.8",
                "user_agent": CHROME,
            }
            for i in range(10)
        ]
        w.send(old)
        before = all_pages(w, 3)
        first = w.data("/api/v1/sessions", period="30d", limit="3")
        # Newer visits arrive, and one that started at exactly the same time as the cursor row.
        w.send(
            [
                {
                    **old[0],
                    "visitor_id": f"new{i}",
                    "path": "/new",
                    "at": now - timedelta(minutes=i),
                }
                for i in range(4)
            ]
        )
        w.send([{**old[2], "visitor_id": "same-start", "path": "/tie"}])
        rest, cursor = [], first["next_cursor"]
        while cursor:
            page = w.data("/api/v1/sessions", period="30d", limit="3", cursor=cursor)
            rest += page["sessions"]
            cursor = page["next_cursor"]
        tie = [s for s in rest if s["entry_page"] == "/tie"]
        assert [s for s in rest if s["entry_page"] != "/tie"] == before[3:]
        assert all(s["entry_page"] != "/new" for s in rest)
        assert (
            len(tie) <= 1
        )  # ordered by (start, id): it lands before or after the cursor, once at most


def test_timeline_in_time_order(world: dict[str, Any]) -> None:
    w = world["w"]
    sessions = all_pages(w, 100)
    longest = max(sessions, key=lambda s: s["events"])
    got = w.data(f"/api/v1/sessions/{longest['session_id']}")
    v = world["by_start"][longest["start"]]
    assert got["session"] == longest
    assert got["events"] == [
        {
            "name": e["event_type"],
            "pathname": e["path"],
            "ts": iso(e["at"]),
            "props": e["metadata"] or {},
        }
        for e in v
    ]


def test_timeline_of_another_sites_session_is_404(world: dict[str, Any]) -> None:
    w = world["w"]
    theirs = w.data("/api/v1/sessions", token=ADMIN, site_id=w.other_id)["sessions"]
    assert len(theirs) == 1
    sid = theirs[0]["session_id"]
    w.get(f"/api/v1/sessions/{sid}", status=404)
    w.get(f"/api/v1/sessions/{sid}", status=404, site_id=w.other_id)
    w.get(f"/api/v1/sessions/{sid}", status=401, token=None)
    assert (
        w.get(f"/api/v1/sessions/{sid}", token=w.other_token, site_id=w.other_id)["data"]["events"][
            0
        ]["pathname"]
        == "/x"
    )


def test_journey_by_user(world: dict[str, Any]) -> None:
    for user in ("user-0", "user-3"):
        got = world["w"].data("/api/v1/journey", user_id=user)["sessions"]
        want = [v for v in world["visits"] if any(e["user_id"] == user for e in v)]
        assert want, user
        assert [s["start"] for s in got] == [iso(v[0]["at"]) for v in want]
        for s, v in zip(got, want):
            assert [(e["name"], e["pathname"], e["ts"]) for e in s["events"]] == [
                (e["event_type"], e["path"], iso(e["at"])) for e in v
            ]


def test_journey_by_visitor(world: dict[str, Any]) -> None:
    w = world["w"]
    sessions = all_pages(w, 100)
    visitor_of = {s["start"]: s["visitor_id"] for s in sessions}
    name = max(
        {e["visitor_id"] for e in world["events"]},
        key=lambda n: sum(v[0]["visitor_id"] == n for v in world["visits"]),
    )
    want = [v for v in world["visits"] if v[0]["visitor_id"] == name]
    vid = visitor_of[iso(want[0][0]["at"])]
    got = w.data("/api/v1/journey", visitor_id=vid)["sessions"]
    assert len(want) >= 2
    assert [s["start"] for s in got] == [iso(v[0]["at"]) for v in want]
    assert [len(s["events"]) for s in got] == [len(v) for v in want]
    assert {s["visitor_id"] for s in got} == {vid}


def test_journey_of_unknown_or_hostile_user_is_empty(world: dict[str, Any]) -> None:
    for user in ("nobody", "' OR 1=1 --", "x'); DROP TABLE events; --"):
        assert world["w"].data("/api/v1/journey", user_id=user) == {"sessions": []}
    assert world["w"].data("/api/v1/journey", visitor_id="12345") == {"sessions": []}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD = [
    ("/api/v1/sessions", {"cursor": "not a cursor!"}, "cursor"),
    ("/api/v1/sessions", {"cursor": b64("2026-01-01T00:00:00|1 OR 1=1")}, "cursor"),
    ("/api/v1/sessions", {"cursor": b64("garbage")}, "cursor"),
    ("/api/v1/sessions", {"cursor": b64(f"2026-01-01T00:00:00|{1 << 64}")}, "cursor"),
    ("/api/v1/sessions", {"limit": "501"}, "limit"),
    ("/api/v1/sessions", {"period": "lifetime"}, "period"),
    ("/api/v1/sessions", {"filters": '[["matches", "event:page", ["(?=x)"]]]'}, "filters[0]"),
    ("/api/v1/sessions", {"filters": '[["is", "visit:nope", ["x"]]]'}, "filters[0]"),
    ("/api/v1/sessions/abc", {}, "session_id"),
    ("/api/v1/sessions/1%20OR%201=1", {}, "session_id"),
    ("/api/v1/sessions/-1", {}, "session_id"),
    ("/api/v1/journey", {}, "user_id"),
    ("/api/v1/journey", {"user_id": "a", "visitor_id": "1"}, "user_id"),
    ("/api/v1/journey", {"visitor_id": "v1"}, "visitor_id"),
    ("/api/v1/journey", {"visitor_id": str(1 << 64)}, "visitor_id"),
]


@pytest.mark.parametrize(
    ("path", "params", "field"), BAD, ids=[f"{p}-{f}-{i}" for i, (p, _, f) in enumerate(BAD)]
)
def test_bad_input_is_400_naming_the_field(
    world: dict[str, Any], path: str, params: dict[str, str], field: str
) -> None:
    body = world["w"].get(path, status=400, **params)
    assert body["success"] is False and body["details"][0]["field"] == field, body
