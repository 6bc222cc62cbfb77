"""A malformed chunked body, sent over a raw socket to the real ``footfall serve``, is a
JSON 400 naming the body on every endpoint that reads one, never Granian's or
Starlette's plain-text 500 (Granian reports such a body as the client's disconnect)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from footfall.config import Settings
from footfall.meta.repo import Metadata
from footfall.meta.users import Accounts
from tests.serverproc import Server

pytestmark = pytest.mark.slow

BAD_CHUNKS = {
    "bad-size": b"zz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hex
    "size-mismatch": b"1\r\n{}\r\n0\r\n\r\n",  # declares 1 byte, sends 2
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("chunked") / "data"
    srv = Server(data).start()
    try:
        status, site = srv.admin_post("/api/site/create", {"name": "C", "domains": ["c.org"]})
        assert status == 201, site
        meta = Metadata(Settings(data_dir=data).metadata_url)
        slug = Accounts(meta).create_share(site["site_id"])
        meta.close()
        yield {"srv": srv, "site": site, "slug": slug}
    finally:
        srv.stop()


def send_chunked(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST ``body`` as already chunk-encoded bytes; the status and decoded JSON answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(head.encode() + b"\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.getheader("content-type", "").startswith("application/json")
        return response.status, json.loads(response.read())


def endpoints(s: dict[str, Any]) -> dict[str, dict[str, str]]:
    admin = {"Authorization": f"Bearer {s['srv'].admin}", "Content-Type": "application/json"}
    ingest = {"x-api-key": s["site"]["api_key"], "Content-Type": "application/json"}
    return {
        "/api/v2/query": admin, "/api/v1/export?format=csv": admin, "/api/site/create": admin,
        "/api/event": ingest, "/api/events": ingest, "/api/send": ingest, "/api/batch": ingest,
        f"/share/{s['slug']}/query": {"Content-Type": "application/json"},
    }  # fmt: skip


@pytest.mark.parametrize("kind", BAD_CHUNKS)
def test_malformed_chunked_body_is_400_everywhere(server: dict[str, Any], kind: str) -> None:
    srv: Server = server["srv"]
    for path, headers in endpoints(server).items():
        status, body = send_chunked(srv.port, path, BAD_CHUNKS[kind], headers)
        assert status == 400, (path, body)
        assert body["success"] is False and body["details"][0]["field"] == "body", (path, body)
    assert "Traceback" not in srv.run_log()


def test_client_gone_mid_body_leaves_no_traceback(server: dict[str, Any]) -> None:
    srv: Server = server["srv"]
    for path, headers in endpoints(server).items():
        with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as sock:
            head = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            sock.sendall(head.encode() + b'\r\n5\r\n{"a"')
    assert srv.get("/api/health")["status"] == "ok"
    assert "Traceback" not in srv.run_log()
