"""footfall.client against the real ``footfall serve`` process over real HTTP.

Every assertion about storage is read back through ``/api/stats`` with a read token.
The 429 is the server's own per-key rate limit; the 503 comes from a small proxy in front
of the real server that answers 503 once (a full spool cannot be provoked on demand).
"""

from __future__ import annotations

import http.server
import threading
import time
import types
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import footfall.client as client_module
from footfall.client import BatchResult, Client, FootfallError, _retry_after
from tests.serverproc import Server, free_port

pytestmark = pytest.mark.slow
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


class Site:
    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        # A domain belongs to one site, and the module's sites share one server.
        self.domain = f"{uuid.uuid4().hex[:12]}.example.com"
        status, body = server.admin_post(
            "/api/site/create", {"name": name, "domains": [self.domain]}
        )
        assert status == 201, body
        self.id, self.key = body["site_id"], body["api_key"]
        status, body = server.admin_post("/api/tokens", {"site_id": self.id})
        assert status == 201, body
        self.token = body["token"]

    def client(self, **kw: Any) -> Client:
        return Client(self.server.url(""), self.key, **kw)

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.server.get(f"/api/stats?site_id={self.id}", self.token)["data"]
        return data

    def wait_for(self, metric: str, expected: int, settle: float = 0.3) -> int:
        """Poll until ``metric`` reaches ``expected``, then a little longer to catch extras."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.stats()[metric] < expected:
            time.sleep(0.05)
        time.sleep(settle)
        return int(self.stats()[metric])


def start(tmp: Path, **env: str) -> Server:
    # The per-IP limit would otherwise meet the batch test's bursts before the key limit.
    return Server(tmp / "data", FOOTFALL_RATE_LIMIT_PER_IP="0", **env).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start(tmp_path_factory.mktemp("client"))
    yield srv
    assert srv.stop() == 0, srv.log()


@pytest.fixture
def site(server: Server) -> Site:
    return Site(server, "Client " + uuid.uuid4().hex[:8])


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's waits instead of sleeping them."""
    waits: list[float] = []
    fake_time = types.SimpleNamespace(sleep=waits.append, time=time.time)
    monkeypatch.setattr(client_module, "time", fake_time)
    return waits


def test_tracked_event_shows_up_in_stats(site: Site) -> None:
    client = site.client()
    event_id = client.track(
        "pageview",
        "/pricing",
        url=f"https://{site.domain}/pricing",
        ip="198.51.100.4",
        user_agent=UA,
    )
    assert uuid.UUID(event_id)
    client.track(
        "signup",
        "/register",
        user_id="u42",
        props={"plan": "pro", "seats": 3},
        revenue=49.0,
        user_agent=UA,
    )
    assert site.wait_for("visitors", 2) == 2  # the hashed browser and user u42
    stats = site.stats()
    assert stats["pageviews"] == 1 and stats["top_paths"] == [{"path": "/pricing", "views": 1}]


def test_same_event_id_is_stored_once(site: Site) -> None:
    client = site.client()
    first = client.track("pageview", "/once", user_agent=UA)
    assert client.track("pageview", "/once", user_agent=UA, event_id=first) == first
    assert client.track("pageview", "/other", user_agent=UA) != first
    assert site.wait_for("pageviews", 2, settle=0.8) == 2


def test_track_many_chunks_and_reports_rejections(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_urlopen = urllib.request.urlopen

    def counting(req: Any, *a: Any, **kw: Any) -> Any:
        if req.data is not None:  # the client's POSTs, not the test's stats reads
            calls.append(len(req.data))
        return real_urlopen(req, *a, **kw)

    monkeypatch.setattr(urllib.request, "urlopen", counting)
    events: list[dict[str, Any]] = [
        {"event_type": "pageview", "path": f"/p/{i}", "user_agent": UA, "visitor_id": f"v{i % 50}"}
        for i in range(2500)
    ]
    bad: dict[int, dict[str, Any]] = {
        3: {"path": "no-slash"},
        1200: {"event_type": ""},
        2301: {"metadata": {"k": [1]}},
    }
    for offset, (index, change) in enumerate(sorted(bad.items())):
        events.insert(
            index + offset, {"event_type": "pageview", "path": "/x", "user_agent": UA, **change}
        )
    bad_indexes = [i + n for n, i in enumerate(sorted(bad))]
    snapshot = [dict(e) for e in events]

    result = site.client().track_many(events)
    assert isinstance(result, BatchResult)
    assert len(calls) == 3  # 2,503 events: 1,000 + 1,000 + 503
    assert result.accepted == 2500
    assert [r["index"] for r in result.rejected] == bad_indexes
    assert [r["field"] for r in result.rejected] == ["path", "event_type", "metadata"]
    assert len(set(result.event_ids)) == len(events)
    assert events == snapshot  # the caller's dicts are left alone
    assert site.wait_for("pageviews", 2500) == 2500
    # Resending the same batch (a retry after a lost answer) stores nothing new.
    resend = [{**e, "event_id": eid} for e, eid in zip(events, result.event_ids, strict=True)]
    assert site.client().track_many(resend).accepted == 2500
    assert site.wait_for("pageviews", 2500, settle=0.8) == 2500


def test_validation_errors_raise_naming_the_field(site: Site, sleeps: list[float]) -> None:
    client = site.client()
    with pytest.raises(FootfallError) as info:
        client.track("pageview", "no-slash")
    assert (info.value.status, info.value.field) == (400, "path")
    assert "/" in info.value.message
    with pytest.raises(FootfallError) as info:
        client.track("signup", "/x", props={f"k{i}": i for i in range(31)})
    assert (info.value.status, info.value.field) == (400, "metadata")
    with pytest.raises(FootfallError) as info:
        client.track("pageview", "/x", timestamp="yesterday-ish")
    assert (info.value.status, info.value.field) == (400, "timestamp")
    with pytest.raises(FootfallError) as info:
        Client(site.server.url(""), "ffk_wrong").track("pageview", "/x")
    assert (info.value.status, info.value.field) == (401, "x-api-key")
    # A batch in which nothing is acceptable is reported, not raised.
    result = client.track_many([{"event_type": "pageview", "path": "bad"}])
    assert result.accepted == 0 and result.rejected[0]["field"] == "path"
    assert sleeps == []  # 4xx other than 429 is never retried


def test_429_waits_for_retry_after_and_succeeds(tmp_path: Path) -> None:
    server = start(tmp_path, FOOTFALL_RATE_LIMIT_PER_KEY="1", FOOTFALL_RATE_LIMIT_PER_KEY_BURST="1")
    try:
        site = Site(server, "Limited")
        client = site.client()
        client.track("pageview", "/a", user_agent=UA)  # takes the only token
        started = time.monotonic()
        client.track("pageview", "/b", user_agent=UA)  # 429 Retry-After: 1, then 202
        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 5
        with pytest.raises(FootfallError) as info:
            site.client(max_retries=0).track("pageview", "/c", user_agent=UA)
        assert (info.value.status, info.value.field) == (429, "x-api-key")
        assert site.wait_for("pageviews", 2) == 2
    finally:
        assert server.stop() == 0, server.log()


class Flaky(http.server.ThreadingHTTPServer):
    """Answers the first ``failures`` requests 503 with ``Retry-After``, forwards the rest."""

    def __init__(self, upstream: str, failures: int, retry_after: str) -> None:
        self.upstream, self.failures, self.retry_after, self.seen = (
            upstream,
            failures,
            retry_after,
            0,
        )
        super().__init__(("127.0.0.1", 0), FlakyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    server: Flaky

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.seen += 1
        if self.server.seen <= self.server.failures:
            self.send_response(503)
            self.send_header("retry-after", self.server.retry_after)
            self.send_header("content-type", "application/json")
            payload = b'{"success": false, "error": "Queue full, retry later", "details": [{"field": "queue", "message": "Queue full, retry later"}]}'
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        req = urllib.request.Request(
            self.server.upstream + self.path,
            data=body,
            method="POST",
            headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = r.read()
            self.send_response(r.status)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def test_503_waits_for_retry_after_and_is_stored_once(site: Site) -> None:
    proxy = Flaky(site.server.url(""), failures=1, retry_after="1")
    try:
        started = time.monotonic()
        Client(proxy.url, site.key).track("pageview", "/busy", user_agent=UA)
        assert 0.9 <= time.monotonic() - started < 5
        assert proxy.seen == 2
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert site.wait_for("pageviews", 1, settle=0.5) == 1


def test_retry_after_is_capped_and_retries_run_out(site: Site, sleeps: list[float]) -> None:
    proxy = Flaky(site.server.url(""), failures=10, retry_after="120")
    try:
        with pytest.raises(FootfallError) as info:
            Client(proxy.url, site.key, max_retries=2).track("pageview", "/busy", user_agent=UA)
        assert (info.value.status, info.value.field) == (503, "queue")
        assert sleeps == [30.0, 30.0] and proxy.seen == 3
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _retry_after("2") == 2.0 and _retry_after(None) is None


def test_connection_refused_retries_then_raises() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", "ffk_x", max_retries=2, timeout=1)
    started = time.monotonic()
    with pytest.raises(FootfallError) as info:
        client.track("pageview", "/down")
    elapsed = time.monotonic() - started
    assert (info.value.status, info.value.field) == (0, "connection")
    assert 1.4 <= elapsed < 5  # waited 0.5 s then 1 s between the three attempts


def test_module_level_track_uses_environment(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "_default", None)
    monkeypatch.delenv("FOOTFALL_URL", raising=False)
    monkeypatch.delenv("FOOTFALL_API_KEY", raising=False)
    with pytest.raises(FootfallError) as info:
        client_module.track("pageview", "/env")
    assert info.value.field == "FOOTFALL_URL"
    monkeypatch.setenv("FOOTFALL_URL", site.server.url("/"))
    monkeypatch.setenv("FOOTFALL_API_KEY", site.key)
    event_id = client_module.track("pageview", "/env", user_agent=UA)
    assert client_module.default_client() is client_module.default_client()
    assert uuid.UUID(event_id)
    assert site.wait_for("pageviews", 1) == 1
