"""OpenTelemetry traces: with an OTLP endpoint set, a collection request's span (continuing
the caller's ``traceparent``) has the pipeline and queue spans under it, a query's has the
store's reads, a writer round has the store's batch; the spans arrive over real OTLP/HTTP
at a receiver in this test. Without an endpoint nothing of OpenTelemetry is imported."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

pb = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="the otel extra is not installed",
)
pytest.importorskip(
    "opentelemetry.exporter.otlp.proto.http", reason="the otel extra is not installed"
)

AUTH = {"Authorization": f"Bearer {ADMIN}"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
IP = "203.0.113.77"


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP traces endpoint: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = pb.ExportTraceServiceRequest.FromString(body)
        self.server.paths.append(self.path)
        for resource in request.resource_spans:
            for scoped in resource.scope_spans:
                self.server.spans.extend(scoped.spans)
        reply = pb.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_spans_arrive_with_names_and_parents(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = receiver.server_address[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        site = client.post(
            "/api/site/create", json={"name": "Shop", "domains": ["shop.example"]}, headers=AUTH
        ).json()
        r = client.post(
            "/api/event",
            json={"event_type": "pageview", "path": "/traced", "ip": IP, "user_agent": "Mozilla/5.0 Firefox/120.0"},
            headers={"x-api-key": site["api_key"], "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"},
        )  # fmt: skip
        assert r.status_code == 202, r.text
        assert client.app.state.services.writer.wait_idle(15)  # type: ignore[attr-defined]
        r = client.post(
            "/api/v2/query",
            json={"site_id": "shop", "metrics": ["pageviews"], "date_range": "day"},
            headers=AUTH,
        )
        assert r.json()["results"][0]["metrics"] == [1]
    # The server's shutdown sent what was buffered.
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    spans = receiver.spans
    by_name: dict[str, list[Any]] = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)

    (collect,) = by_name["HTTP POST /api/event"]
    assert collect.trace_id.hex() == TRACE_ID and collect.parent_span_id.hex() == CALLER_SPAN
    attrs = {a.key: a.value for a in collect.attributes}
    assert attrs["http.response.status_code"].int_value == 202
    assert attrs["http.route"].string_value == "/api/event"
    for child in ("pipeline.build", "queue.append"):
        (span,) = (s for s in by_name[child] if s.trace_id == collect.trace_id)
        assert span.parent_span_id == collect.span_id, child

    (query,) = by_name["HTTP POST /api/v2/query"]
    reads = [s for s in by_name["store.query"] if s.parent_span_id == query.span_id]
    assert reads and all(s.trace_id == query.trace_id for s in reads)

    rounds = {s.span_id: s for s in by_name["writer.round"]}
    batches = by_name["store.batch"]
    assert batches and all(b.parent_span_id in rounds for b in batches)
    # The round that stored the event links to the request that sent it.
    linked = [(k.trace_id, k.span_id) for r in rounds.values() for k in r.links]
    assert linked == [(collect.trace_id, collect.span_id)]
    # Never the visitor's IP, anywhere in a span.
    assert all(IP not in str(s) for s in spans)


@pytest.mark.slow
def test_without_an_endpoint_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    code = f"""
import sys
from starlette.testclient import TestClient
from footfall.app import create_app
from tests.conftest import make_settings
from pathlib import Path
with TestClient(create_app(make_settings(Path({str(tmp_path)!r})))) as client:
    assert client.get("/api/health/live").status_code == 200
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
assert not loaded, loaded
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
