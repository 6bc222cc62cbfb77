"""Bad input on the native collection endpoints gets its documented 4xx with a JSON body
naming the field, never a 500, and never poisons good events (docs/design.md "Collection APIs",
"Contracts every part keeps"). Everything runs against the real app, spool, writer and
DuckDB store of the ``footfall`` fixture; stored results are read back through /api/stats.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Footfall

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def pv(path: str = "/", **extra: Any) -> dict[str, Any]:
    return {"event_type": "pageview", "path": path, **extra}


def post_raw(
    ff: Footfall,
    endpoint: str,
    content: bytes | Iterator[bytes],
    content_type: str | None = "application/json",
    key: str | None = "use-site-key",
    **headers: str,
) -> Any:
    h = {"user-agent": BROWSER_UA, **headers}
    if content_type is not None:
        h["content-type"] = content_type
    if key == "use-site-key":
        h["x-api-key"] = ff.api_key
    elif key is not None:
        h["x-api-key"] = key
    return ff.client.post(endpoint, content=content, headers=h)


def post_json(ff: Footfall, endpoint: str, body: Any, **kw: Any) -> Any:
    return post_raw(ff, endpoint, json.dumps(body).encode(), **kw)


def single(ff: Footfall, event: Any, **kw: Any) -> Any:
    return post_json(ff, "/api/event", event, **kw)


def batch(ff: Footfall, events: list[Any], **kw: Any) -> Any:
    return post_json(ff, "/api/events", {"events": events}, **kw)


def assert_envelope(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The native error envelope: success false, an error text, details naming the field."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers.get("access-control-allow-origin") == "*"
    body: dict[str, Any] = r.json()
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], list) and body["details"], body
    for d in body["details"]:
        assert isinstance(d["field"], str) and d["field"]
        assert isinstance(d["message"], str) and d["message"]
    if field is not None:
        assert field in [d["field"] for d in body["details"]], body
    return body


def assert_batch_rejected(
    r: Any, status: int, accepted: int, bad: dict[int, str]
) -> dict[str, Any]:
    """Batch shape: accepted count, and rejected exactly at the given indexes/fields."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("access-control-allow-origin") == "*"
    body: dict[str, Any] = r.json()
    assert body["accepted"] == accepted, body
    got = {item["index"]: item["field"] for item in body["rejected"]}
    assert got == bad, body
    for item in body["rejected"]:
        assert isinstance(item["message"], str) and item["message"]
    return body


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- both endpoints: the body as a whole ----------------------------------------------------

ENDPOINTS = ["/api/event", "/api/events"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "content",
    [
        b'{"event_type": "pageview", "path": "/"',  # truncated
        b"{event_type: pageview}",
        b"",
        b"not json at all",
        b'{"event_type": "pageview", "path": "/",}',
        b"\x00\x01\x02",
    ],
    ids=["truncated", "unquoted", "empty", "text", "trailing-comma", "binary"],
)
def test_malformed_json_is_400_naming_body(
    footfall: Footfall, endpoint: str, content: bytes
) -> None:
    assert_envelope(post_raw(footfall, endpoint, content), 400, "body")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("value", [[pv()], "pageview", 42, None, True, 1.5])
def test_json_that_is_not_an_object_is_400(footfall: Footfall, endpoint: str, value: Any) -> None:
    assert_envelope(post_json(footfall, endpoint, value), 400, "body")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "content",
    [
        b'{"event_type": "pageview", "path": "/\xff\xfe"}',
        b'\xff\xfe{"event_type": "pageview", "path": "/"}',
        b'{"event_type": "pageview", "path": "/\xc3\x28"}',
        b'{"event_type": "pageview", "path": "/\xed\xa0\x80"}',  # UTF-8-encoded surrogate
    ],
    ids=["in-string", "bom-like", "bad-continuation", "surrogate"],
)
def test_non_utf8_body_is_400(footfall: Footfall, endpoint: str, content: bytes) -> None:
    if endpoint == "/api/events":
        content = b'{"events": [' + content + b"]}"
    assert_envelope(post_raw(footfall, endpoint, content), 400, "body")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_deeply_nested_json_is_400_not_500(footfall: Footfall, endpoint: str) -> None:
    depth = 20_000
    content = (
        b'{"event_type": "pageview", "path": "/", "metadata": ' + b"[" * depth + b"]" * depth + b"}"
    )
    r = post_raw(footfall, endpoint, content)
    assert r.status_code == 400, r.text
    assert_envelope(r, 400)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "ctype",
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "image/png",
        "text/html",
    ],
)
def test_unsupported_content_type_is_415(footfall: Footfall, endpoint: str, ctype: str) -> None:
    body = {"events": [pv()]} if endpoint == "/api/events" else pv()
    r = post_raw(footfall, endpoint, json.dumps(body).encode(), content_type=ctype)
    assert_envelope(r, 415, "content-type")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "ctype", ["application/json", "application/json; charset=utf-8", "text/plain", None]
)
def test_json_content_types_are_accepted(
    footfall: Footfall, endpoint: str, ctype: str | None
) -> None:
    body = {"events": [pv("/ctype")]} if endpoint == "/api/events" else pv("/ctype")
    r = post_raw(footfall, endpoint, json.dumps(body).encode(), content_type=ctype)
    assert r.status_code == 202, r.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_missing_key_is_401_naming_the_key(footfall: Footfall, endpoint: str) -> None:
    body = {"events": [pv()]} if endpoint == "/api/events" else pv()
    assert_envelope(post_json(footfall, endpoint, body, key=None), 401, "x-api-key")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("key", ["nope", "x" * 500, "' OR 1=1 --"])
def test_unknown_key_is_401_naming_the_key(footfall: Footfall, endpoint: str, key: str) -> None:
    body = {"events": [pv()]} if endpoint == "/api/events" else pv()
    assert_envelope(post_json(footfall, endpoint, body, key=key), 401, "x-api-key")
    # in the body too (sendBeacon form)
    body = {**body, "api_key": key}
    assert_envelope(post_json(footfall, endpoint, body, key=None), 401, "x-api-key")


def test_key_in_body_or_query_string_is_accepted(footfall: Footfall) -> None:
    r = single(footfall, pv("/beacon", api_key=footfall.api_key), key=None)
    assert r.status_code == 202, r.text
    r = footfall.client.post(
        "/api/event",
        params={"api_key": footfall.api_key},
        content=json.dumps(pv("/beacon")),
        headers={"content-type": "text/plain", "user-agent": BROWSER_UA},
    )
    assert r.status_code == 202, r.text
    assert footfall.stats()["pageviews"] == 2


# -- sizes -------------------------------------------------------------------------------


def padded_single(size: int) -> bytes:
    body = json.dumps(pv("/big", title="")).encode()
    return body.replace(b'"title": ""', b'"title": "' + b"a" * (size - len(body)) + b'"')


def test_single_body_over_64k_is_413(footfall: Footfall) -> None:
    content = padded_single((64 << 10) + 1)
    assert len(content) == (64 << 10) + 1
    assert_envelope(post_raw(footfall, "/api/event", content), 413, "body")


def test_batch_body_over_1m_is_413(footfall: Footfall) -> None:
    events = [pv("/p", title="t" * 500) for _ in range(2100)]
    content = json.dumps({"events": events}).encode()
    assert len(content) > 1 << 20
    assert_envelope(post_raw(footfall, "/api/events", content), 413, "body")


def _chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize(
    ("endpoint", "limit"), [("/api/event", 64 << 10), ("/api/events", 1 << 20)]
)
def test_oversized_chunked_body_without_length_is_413(
    footfall: Footfall, endpoint: str, limit: int
) -> None:
    data = b'{"events": [' if endpoint == "/api/events" else b"{"
    data += b" " * (limit + 10)
    r = post_raw(footfall, endpoint, _chunks(data))
    assert "content-length" not in r.request.headers
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert_envelope(r, 413, "body")


@pytest.mark.parametrize(
    ("endpoint", "limit"), [("/api/event", 64 << 10), ("/api/events", 1 << 20)]
)
def test_oversized_body_with_lying_content_length_is_413(
    footfall: Footfall, endpoint: str, limit: int
) -> None:
    data = b"{" + b" " * (limit + 10) + b"}"
    r = post_raw(footfall, endpoint, data, **{"content-length": "2"})
    assert_envelope(r, 413, "body")


@pytest.mark.parametrize("declared", ["-1", "abc", "99999999999999999999"])
def test_bad_declared_content_length_is_4xx_naming_body(footfall: Footfall, declared: str) -> None:
    r = post_raw(footfall, "/api/event", json.dumps(pv()).encode(), **{"content-length": declared})
    assert r.status_code in (400, 413), r.text
    assert_envelope(r, r.status_code, "body")


def test_body_just_under_the_limit_is_accepted(footfall: Footfall) -> None:
    content = padded_single(64 << 10)
    r = post_raw(footfall, "/api/event", content)
    # the title is longer than its own limit, so this is a 400 about the title, not a 413
    assert_envelope(r, 400, "title")


def test_more_than_1000_events_is_400_naming_events(footfall: Footfall) -> None:
    r = batch(footfall, [pv(f"/{i}") for i in range(1001)])
    assert_envelope(r, 400, "events")
    r = batch(footfall, [pv(f"/{i}") for i in range(1000)])
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1000
    assert footfall.stats()["pageviews"] == 1000


@pytest.mark.parametrize(
    "body", [{}, {"events": []}, {"events": "x"}, {"events": {"0": {}}}, {"events": None}]
)
def test_batch_without_an_events_list_is_400_naming_events(footfall: Footfall, body: Any) -> None:
    assert_envelope(post_json(footfall, "/api/events", body), 400, "events")


# -- field validation ----------------------------------------------------------------------

BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("event_type-int", {"event_type": 1, "path": "/"}, "event_type"),
    ("event_type-null", {"event_type": None, "path": "/"}, "event_type"),
    ("event_type-empty", {"event_type": "", "path": "/"}, "event_type"),
    ("event_type-missing", {"path": "/"}, "event_type"),
    ("path-missing", {"event_type": "pageview"}, "path"),
    ("path-int", {"event_type": "pageview", "path": 5}, "path"),
    ("path-10k", {"event_type": "pageview", "path": "/" + "a" * 9999}, "path"),
    ("path-relative", {"event_type": "pageview", "path": "no-slash"}, "path"),
    ("metadata-list", pv(metadata=["a", "b"]), "metadata"),
    ("metadata-string", pv(metadata="a=b"), "metadata"),
    ("metadata-31", pv(metadata={f"k{i}": i for i in range(31)}), "metadata"),
    ("metadata-nested-object", pv(metadata={"a": {"b": 1}}), "metadata"),
    ("metadata-nested-list", pv(metadata={"a": [1, 2]}), "metadata"),
    ("metadata-empty-key", pv(metadata={"": "x"}), "metadata"),
    ("metadata-long-key", pv(metadata={"k" * 200: "x"}), "metadata"),
    ("metadata-long-value", pv(metadata={"k": "v" * 2000}), "metadata"),
    ("user_props-nested", pv(user_props={"plan": {"tier": 1}}), "user_props"),
    ("user_props-31", pv(user_props={f"k{i}": i for i in range(31)}), "user_props"),
    ("interactive-string", pv(interactive="yes"), "interactive"),
    ("revenue-string", pv(revenue="lots"), "revenue"),
    ("revenue-huge", pv(revenue=1e300), "revenue"),
    ("scroll-depth-200", pv(scroll_depth=200), "scroll_depth"),
    ("event_id-object", pv(event_id={"a": 1}), "event_id"),
    ("ip-too-long", pv(ip="1" * 100), "ip"),
    ("ip-not-an-ip", pv(ip="not-an-ip"), "ip"),
    ("ip-octet-300", pv(ip="203.0.113.300"), "ip"),
    ("ip-int", pv(ip=3232235777), "ip"),
    ("url-list", pv(url=["https://example.com/"]), "url"),
]


@pytest.mark.parametrize(("case", "event", "field"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
def test_bad_field_single_is_400_naming_it(
    footfall: Footfall, case: str, event: dict[str, Any], field: str
) -> None:
    body = assert_envelope(single(footfall, event), 400, field)
    assert body["error"] == "Validation failed"


@pytest.mark.parametrize(("case", "event", "field"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
def test_bad_field_batch_is_rejected_by_index(
    footfall: Footfall, case: str, event: dict[str, Any], field: str
) -> None:
    r = batch(footfall, [pv("/good-0"), event, pv("/good-2")])
    assert_batch_rejected(r, 202, 2, {1: field})
    # alone, it is a 400 in the same shape
    r = batch(footfall, [event])
    body = assert_batch_rejected(r, 400, 0, {0: field})
    assert body["success"] is False


def test_30_props_are_fine(footfall: Footfall) -> None:
    r = single(footfall, pv("/props", metadata={f"k{i}": i for i in range(30)}))
    assert r.status_code == 202, r.text


# -- timestamps ----------------------------------------------------------------------------

BAD_TIMESTAMPS: list[tuple[str, Any]] = [
    ("1970", "1970-01-01T00:00:00Z"),
    ("1970-epoch-ms", 0),
    ("9999", "9999-12-31T23:59:59Z"),
    ("9999-offset", "9999-12-31T23:59:59-12:00"),
    ("year-1-offset", "0001-01-01T00:00:00+14:00"),
    ("1e20-float", 1e20),
    ("1e20-int", 10**20),
    ("huge-int", 10**40),
    ("negative", -(10**20)),
    ("yesterday", "yesterday"),
    ("empty", ""),
    ("true", True),
    ("false", False),
    ("list", [2024, 1, 1]),
    ("object", {"ts": 1}),
    ("bad-month", "2024-13-01T00:00:00Z"),
    ("bad-offset", "2024-01-01T00:00:00+25:00"),
    ("nan-text", "NaN"),
    ("float-ms", 1700000000000.5),
    ("future-10min", "FUTURE"),
    ("past-31d", "PAST31"),
]


def _resolve(value: Any) -> Any:
    now = datetime.now(UTC)
    if value == "FUTURE":
        return iso(now + timedelta(minutes=10))
    if value == "PAST31":
        return iso(now - timedelta(days=31))
    return value


@pytest.mark.parametrize(("case", "value"), BAD_TIMESTAMPS, ids=[c[0] for c in BAD_TIMESTAMPS])
def test_absurd_timestamp_is_400_naming_timestamp(
    footfall: Footfall, case: str, value: Any
) -> None:
    value = _resolve(value)
    assert_envelope(single(footfall, pv("/ts", timestamp=value)), 400, "timestamp")
    assert_batch_rejected(batch(footfall, [pv("/ts", timestamp=value)]), 400, 0, {0: "timestamp"})


def test_31_days_old_epoch_ms_is_400(footfall: Footfall) -> None:
    old = int((time.time() - 31 * 86400) * 1000)
    assert_envelope(single(footfall, pv("/old", timestamp=old)), 400, "timestamp")


@pytest.mark.parametrize("form", ["rfc3339-z", "rfc3339-offset", "naive", "epoch-ms"])
def test_29_days_old_is_accepted_and_stored_with_that_time(footfall: Footfall, form: str) -> None:
    when = (datetime.now(UTC) - timedelta(days=29)).replace(microsecond=123000)
    value: Any
    if form == "rfc3339-z":
        value = iso(when)
    elif form == "rfc3339-offset":
        value = (
            when.astimezone(UTC)
            .astimezone(__import__("datetime").timezone(timedelta(hours=-5, minutes=-30)))
            .isoformat()
        )
    elif form == "naive":
        value = when.replace(tzinfo=None).isoformat()
    else:
        value = int(when.timestamp() * 1000)
    eid = str(uuid.uuid4())
    r = single(footfall, pv("/29-days", timestamp=value, event_id=eid))
    assert r.status_code == 202, r.text
    stats = footfall.stats(date=when.date().isoformat())
    assert stats["pageviews"] == 1
    assert stats["top_paths"] == [{"path": "/29-days", "views": 1}]
    assert footfall.stats()["pageviews"] == 0  # not today
    rows = footfall.services.store.query("SELECT ts FROM events WHERE event_id = ?", [eid])
    assert rows == [(when.replace(tzinfo=None),)]


# -- strings: NUL bytes, markup, SQL --------------------------------------------------------

INERT = [
    "/<script>alert('x')</script>",
    '/"><img src=x onerror=alert(1)>',
    "/'; DROP TABLE events; --",
    '/" OR "1"="1',
    "/1' OR '1'='1' /*",
    "/%27%20OR%201%3D1",
    "/{{7*7}}${7*7}",
    "/ünïcødé/日本語/🙂",
    "/back\\slash\ttab\nnewline",
]


def test_xss_and_sql_strings_are_stored_verbatim(footfall: Footfall) -> None:
    for i, path in enumerate(INERT):
        props = {"q": path[1:], "<b>": "</b>", "k'": 'v"; DELETE FROM events'}
        r = single(
            footfall,
            pv(
                path,
                metadata=props,
                title=path,
                referrer=f"https://x.test/{path}",
                event_id=str(uuid.UUID(int=i + 1)),
            ),
        )
        assert r.status_code == 202, r.text
    r = batch(footfall, [pv(p) for p in INERT])
    assert r.status_code == 202 and r.json()["accepted"] == len(INERT), r.text
    stats = footfall.stats()
    assert stats["pageviews"] == 2 * len(INERT)
    top = {row["path"]: row["views"] for row in stats["top_paths"]}
    # top_paths shows the first 10; together with the table the rest are checked below
    for path, views in top.items():
        assert path in INERT and views == 2
    stored = footfall.services.store.query(
        "SELECT pathname, title, props['q'], props['<b>'], props['k'''] FROM events "
        "WHERE title <> '' ORDER BY event_id"
    )
    assert [row[0] for row in stored] == INERT
    for path, row in zip(INERT, stored, strict=True):
        assert row == (path, path, path[1:], "</b>", 'v"; DELETE FROM events')
    assert footfall.services.store.query("SELECT count(*) FROM events")[0][0] == 2 * len(INERT)


def test_top_paths_return_markup_unchanged(footfall: Footfall) -> None:
    for path in INERT[:5]:
        assert single(footfall, pv(path)).status_code == 202
    stats = footfall.stats()
    assert sorted(row["path"] for row in stats["top_paths"]) == sorted(INERT[:5])


@pytest.mark.parametrize(
    "event",
    [
        pv("/nul\x00byte"),
        pv("/nul", title="a\x00b"),
        pv("/nul", metadata={"k": "v\x00v"}),
        pv("/nul", metadata={"k\x00": "v"}),
        {"event_type": "sign\x00up", "path": "/nul"},
        pv("/nul", referrer="https://ref.test/\x00"),
        pv("/nul", user_id="u\x00"),
    ],
    ids=["path", "title", "prop-value", "prop-key", "event_type", "referrer", "user_id"],
)
def test_nul_bytes_are_stored_or_rejected_never_poison(
    footfall: Footfall, event: dict[str, Any]
) -> None:
    """A NUL in a string is either a 400 naming the field or stored; either way the events
    after it are written (the writer must not get stuck on it)."""
    r = single(footfall, event)
    assert r.status_code in (202, 400), r.text
    if r.status_code == 400:
        assert_envelope(r, 400)
    assert single(footfall, pv("/after-nul")).status_code == 202
    stats = footfall.stats()
    assert {"path": "/after-nul", "views": 1} in stats["top_paths"]
    health = footfall.client.get("/api/health").json()
    assert health["writer"]["errors"] == 0
    assert health["writer"]["lag_events"] == 0


# -- batches: the good ones stored, the bad ones reported -----------------------------------


def test_mixed_batch_stores_exactly_the_good_ones(footfall: Footfall) -> None:
    events: list[Any] = [
        pv("/a"),  # 0 good
        {"event_type": 5, "path": "/b"},  # 1 bad
        pv("/c", metadata={"x": [1]}),  # 2 bad
        "not an object",  # 3 bad
        pv("/d"),  # 4 good
        pv("/" + "e" * 10_000),  # 5 bad
        pv("/f", timestamp="yesterday"),  # 6 bad
        None,  # 7 bad
        pv("/g"),  # 8 good
        {"event_type": "signup", "path": "/h"},  # 9 good (custom event)
        {"path": "/i"},  # 10 bad
        [pv("/j")],  # 11 bad
    ]
    r = batch(footfall, events)
    body = assert_batch_rejected(
        r,
        202,
        4,
        {
            1: "event_type",
            2: "metadata",
            3: "body",
            5: "path",
            6: "timestamp",
            7: "body",
            10: "event_type",
            11: "body",
        },
    )
    assert body["success"] is True
    stats = footfall.stats()
    assert stats["pageviews"] == 3
    assert sorted(p["path"] for p in stats["top_paths"]) == ["/a", "/d", "/g"]
    assert footfall.services.store.query("SELECT count(*) FROM events")[0][0] == 4


def test_all_bad_batch_is_400_with_accepted_0(footfall: Footfall) -> None:
    r = batch(footfall, [{"event_type": 1}, {"path": "/x"}, 7, pv("/y", timestamp=True)])
    body = assert_batch_rejected(
        r, 400, 0, {0: "event_type", 1: "event_type", 2: "body", 3: "timestamp"}
    )
    assert body["success"] is False
    assert footfall.stats()["pageviews"] == 0


def test_a_bad_event_between_good_batches_changes_nothing(footfall: Footfall) -> None:
    for i in range(3):
        assert batch(footfall, [pv(f"/ok{i}")] * 5).status_code == 202
        assert single(footfall, pv("/x" * 9000)).status_code == 400
    assert footfall.stats()["pageviews"] == 15


# -- page hostnames ------------------------------------------------------------------------


def test_foreign_hostnames_are_not_stored(footfall: Footfall) -> None:
    allowed = [
        "https://example.com/",
        "https://www.example.com/",
        "https://blog.example.com/post",
        "http://EXAMPLE.com:8080/x",
    ]
    foreign = [
        "https://evil.com/",
        "https://example.com.evil.com/",
        "https://notexample.com/",
        "https://example.org/",
        "https://www.evil.example/",
        "https://user@evil.com/",
    ]
    for url in allowed:
        r = single(footfall, pv("/allowed", url=url))
        assert r.status_code == 202 and "dropped" not in r.json()["message"], (url, r.text)
    for url in foreign:
        r = single(footfall, pv("/foreign", url=url))
        assert r.status_code == 202, (url, r.text)  # accepted, then dropped (counted)
    r = batch(
        footfall,
        [pv("/foreign", url=u) for u in foreign] + [pv("/allowed", url=u) for u in allowed],
    )
    assert r.status_code == 202, r.text
    stats = footfall.stats()
    paths = {p["path"]: p["views"] for p in stats["top_paths"]}
    assert paths == {"/allowed": 2 * len(allowed)}, (paths, allowed)
    hosts = {h for (h,) in footfall.services.store.query("SELECT DISTINCT hostname FROM events")}
    assert hosts <= {"example.com", "www.example.com", "blog.example.com"}


# -- the compatible forms share the contract: bad input is a 4xx, never a 500 ---------------


@pytest.mark.parametrize("url", ["http://[::1", "https://[example.com/x", "http://]x[/"])
def test_plausible_invalid_ipv6_url_is_400(footfall: Footfall, url: str) -> None:
    r = post_json(
        footfall,
        "/api/event",
        {"n": "pageview", "u": url, "d": "example.com"},
        key=None,
        content_type="text/plain",
    )
    assert r.status_code in (202, 400), r.text
    if r.status_code == 400:
        assert "url" in r.json()["errors"]


@pytest.mark.parametrize("url", ["http://[::1", "https://[example.com/x"])
def test_umami_invalid_ipv6_url_is_400(footfall: Footfall, url: str) -> None:
    body = {
        "type": "event",
        "payload": {"website": footfall.site_id, "hostname": "example.com", "url": url},
    }
    r = post_json(footfall, "/api/send", body, key=None)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"]["field"] == "payload.url"
