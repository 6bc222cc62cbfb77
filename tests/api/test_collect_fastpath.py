"""The raw ASGI front of POST /api/event and /api/events (footfall/api/collect.py): what it
reads from the scope itself must match what Starlette's Request would have given, and
the pipeline's shortcuts must give the same values as the plain functions."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from footfall.api.fastpath import FootfallApp
from footfall.ingest.pipeline import event_uuid
from footfall.ingest.record import DECODER, SpoolRecord
from footfall.meta.salts import lasting_id, stable_id, visitor_hash
from tests.conftest import Footfall

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"


def call_raw(
    footfall: Footfall,
    path: str,
    messages: list[dict[str, Any]],
    headers: list[tuple[bytes, bytes]],
) -> list[dict[str, Any]]:
    """Drive the app's ASGI callable directly on its own loop; returns what it sent."""
    app = footfall.client.app
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("203.0.113.9", 5000),
        "server": ("127.0.0.1", 8000),
    }  # fmt: skip

    async def run() -> None:
        await app(scope, receive, send)  # type: ignore[operator]

    portal = footfall.client.portal
    assert portal is not None
    portal.call(run)
    return sent


def status_and_body(sent: list[dict[str, Any]]) -> tuple[int, Any]:
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    headers = dict(sent[0]["headers"])
    assert headers[b"access-control-allow-origin"] == b"*"
    assert int(headers[b"content-length"]) == len(sent[1]["body"])
    return sent[0]["status"], json.loads(sent[1]["body"])


def event(path: str = "/fast") -> dict[str, Any]:
    return {"event_type": "pageview", "path": path, "url": f"https://example.com{path}"}


def test_body_in_several_chunks_is_read_whole(footfall: Footfall) -> None:
    body = json.dumps(event("/chunked")).encode()
    parts = [body[:7], body[7:20], body[20:]]
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
        for i, p in enumerate(parts)
    ]
    headers = [(b"x-api-key", footfall.api_key.encode()), (b"user-agent", UA.encode())]
    start = footfall.services.queue.end_position()
    status, answer = status_and_body(call_raw(footfall, "/api/event", messages, headers))
    assert status == 202, answer
    assert answer["success"] is True and answer["message"] == "Event queued successfully"
    assert isinstance(answer["processing_time_ms"], float)
    payloads, _ = footfall.services.queue.read(start, 10)
    assert [DECODER.decode(p).pathname for p in payloads] == ["/chunked"]


def test_body_ended_by_a_disconnect_is_400_and_stores_nothing(footfall: Footfall) -> None:
    # Granian reports a malformed chunked body as a disconnect, to a client still waiting
    # for the answer (tests/api/test_malformed_body.py sends one to the real server).
    depth = footfall.services.queue.depth(footfall.services.queue.first_position())
    for path in ("/api/event", "/api/events"):
        sent = call_raw(footfall, path, [], [(b"x-api-key", footfall.api_key.encode())])
        status, body = status_and_body(sent)
        assert status == 400 and body["details"][0]["field"] == "body"
    assert footfall.services.queue.depth(footfall.services.queue.first_position()) == depth


@pytest.mark.parametrize("first_valid", [True, False])
def test_first_of_repeated_headers_wins_as_in_starlette(
    footfall: Footfall, first_valid: bool
) -> None:
    keys = [footfall.api_key.encode(), b"ffk_not-a-key"]
    if not first_valid:
        keys.reverse()
    headers = [(b"x-api-key", k) for k in keys]
    messages = [{"type": "http.request", "body": json.dumps(event()).encode()}]
    status, _ = status_and_body(call_raw(footfall, "/api/event", messages, headers))
    assert status == (202 if first_valid else 401)
    request = Request({"type": "http", "headers": headers})
    assert (request.headers["x-api-key"] == footfall.api_key) is first_valid


def test_repeated_content_type_first_wins(footfall: Footfall) -> None:
    headers = [
        (b"content-type", b"image/png"),
        (b"content-type", b"application/json"),
        (b"x-api-key", footfall.api_key.encode()),
    ]
    messages = [{"type": "http.request", "body": json.dumps(event()).encode()}]
    status, _ = status_and_body(call_raw(footfall, "/api/event", messages, headers))
    assert status == 415


def test_spooled_record_matches_the_plain_functions(footfall: Footfall) -> None:
    """The pipeline hashes from a copy of the keyed state and makes ids from a fixed
    prefix; both must equal what salts.visitor_hash and a real UUID give."""
    svc = footfall.services
    start = svc.queue.end_position()
    ip = "198.51.100.23"
    r = footfall.send({**event("/same"), "ip": ip, "user_agent": UA})
    assert r.status_code == 202, r.text
    payloads, _ = svc.queue.read(start, 10)
    assert len(payloads) == 1
    record = DECODER.decode(payloads[0])
    salt = svc.salts.salts_for()[0]
    assert record.visitor_id == visitor_hash(salt, footfall.site_id, ip, UA)
    assert str(uuid.UUID(record.event_id)) == record.event_id
    ids = {event_uuid(None) for _ in range(1000)}
    assert len(ids) == 1000
    assert all(str(uuid.UUID(i)) == i for i in ids)


def test_spool_record_field_order_is_what_the_pipeline_passes_positionally() -> None:
    # Pipeline._build constructs SpoolRecord positionally; a reordered or new field must
    # be reflected there (and here).
    assert SpoolRecord.__struct_fields__ == (
        "event_id", "site_id", "ts", "name", "hostname", "pathname", "url_query", "referrer",
        "user_agent", "visitor_id", "session_id", "user_id", "screen", "language", "country",
        "region", "city", "title", "interactive", "props", "revenue", "duration_ms",
        "load_time_ms", "scroll_depth",
    )  # fmt: skip


def test_record_fields_from_a_full_event(footfall: Footfall) -> None:
    svc = footfall.services
    start = svc.queue.end_position()
    sent = {
        "event_type": "signup", "path": "/join?utm_source=x&secret=1", "url": "https://example.com/join",
        "referrer": "https://r.example/", "title": "Join", "event_id": "abc",
        "user_id": "u1", "session_id": "s1", "screen": "1x1", "language": "de",
        "interactive": False, "metadata": {"plan": "pro", "n": 2, "ok": True, "none": None},
        "user_props": {"tier": "gold"}, "ip": "8.8.8.8", "user_agent": UA, "revenue": 9.5,
        "engaged_ms": 1200, "load_time_ms": 300, "scroll_depth": 70,
    }  # fmt: skip
    assert footfall.send(sent).status_code == 202
    payloads, _ = svc.queue.read(start, 10)
    record = DECODER.decode(payloads[0])
    assert record.event_id == event_uuid("abc")
    assert (record.site_id, record.name, record.hostname) == (
        footfall.site_id,
        "signup",
        "example.com",
    )
    assert (record.pathname, record.url_query, record.referrer) == (
        "/join",
        "utm_source=x",
        "https://r.example/",
    )
    assert (record.user_agent, record.user_id, record.screen, record.language, record.title) == (
        UA,
        "u1",
        "1x1",
        "de",
        "Join",
    )
    assert record.visitor_id == lasting_id("u:u1") and record.session_id == stable_id("s:s1")
    assert record.interactive is False
    assert record.props == {"plan": "pro", "n": "2", "ok": "true", "user.tier": "gold"}
    assert (record.revenue, record.duration_ms, record.load_time_ms, record.scroll_depth) == (
        9.5,
        1200,
        300,
        70,
    )


def test_batch_of_valid_events_in_one_typed_pass_and_mixed_batch_by_index(
    footfall: Footfall,
) -> None:
    good = footfall.send_batch([event("/a"), event("/b")])
    assert good.status_code == 202 and good.json()["accepted"] == 2, good.text
    mixed = footfall.send_batch([event("/c"), {"event_type": "pageview", "path": "no-slash"}])
    assert mixed.status_code == 202, mixed.text
    assert mixed.json()["accepted"] == 1
    assert mixed.json()["rejected"] == [
        {"index": 1, "field": "path", "message": "must start with '/'"}
    ]
    typed_invalid = footfall.send_batch([event("/d"), {"event_type": 5, "path": "/e"}])
    assert typed_invalid.json()["accepted"] == 1
    assert typed_invalid.json()["rejected"][0]["index"] == 1
    assert typed_invalid.json()["rejected"][0]["field"] == "event_type"


@pytest.mark.parametrize("endpoint", ["/api/event", "/api/events"])
def test_invalid_utf8_in_an_unknown_field_is_still_400(footfall: Footfall, endpoint: str) -> None:
    content = b'{"event_type": "pageview", "path": "/", "junk": "\xff\xfe"}'
    if endpoint == "/api/events":
        content = b'{"events": [' + content + b"]}"
    r = footfall.client.post(endpoint, content=content, headers={"x-api-key": footfall.api_key})
    assert r.status_code == 400 and r.json()["details"][0]["field"] == "body", r.text
    accented = '{"event_type": "pageview", "path": "/caf\u00e9", "title": "Café ☕"}'
    r = footfall.client.post(
        "/api/event", content=accented.encode(), headers={"x-api-key": footfall.api_key}
    )
    assert r.status_code == 202, r.text


def test_key_in_body_is_used_when_the_typed_decode_succeeds(footfall: Footfall) -> None:
    body = msgspec.json.encode({**event(), "api_key": footfall.api_key})
    r = footfall.client.post("/api/event", content=body)
    assert r.status_code == 202, r.text
    r = footfall.client.post(
        "/api/events", content=msgspec.json.encode({"events": [event()], "api_key": "nope"})
    )
    assert r.status_code == 401


async def test_handlers_without_a_raw_form_get_a_request_adapter() -> None:
    async def handler(request: Request) -> Response:
        return JSONResponse({"path": request.url.path, "body": (await request.body()).decode()})

    async def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    app = FootfallApp(routes=[], fast_routes={"/x": handler, "/y": broken})
    assert isinstance(app, Starlette)
    for path, expected in (("/x", 200), ("/y", 500)):
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"hi"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "headers": [],
                 "query_string": b""}  # fmt: skip
        await app(scope, receive, send)
        assert sent[0]["status"] == expected
        if expected == 200:
            assert json.loads(sent[1]["body"]) == {"path": "/x", "body": "hi"}
