"""deploy/nginx.conf: ``nginx -t`` accepts it (Debian's nginx), and, in front of a real
``footfall serve``, it does what it says: TLS, http to https, CORS on collection with
preflights answered by nginx, one year of cache for the content-hashed tracker, security
headers, gzip, and 429 beyond the API's 100 requests/s (burst 200).

Run on a copy whose upstream, ports and paths point into the test's directory; skipped,
with the reason, where nginx or openssl is not installed (``apt-get install nginx-light``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_services
from tests.serverproc import Server, free_port

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx.conf"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _need(binary: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        reason = f"{binary} is not installed (apt-get install nginx-light openssl): deploy/nginx.conf is not checked"
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def adapted(tmp: Path, upstream: str, http_port: int, https_port: int) -> Path:
    """The file with the test's upstream, ports, certificate and writable paths."""
    subprocess.run(
        [_need("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(tmp / "privkey.pem"),
         "-out", str(tmp / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    text = CONF.read_text()
    for old, new in [
        ("serve:8000", upstream),
        ("/etc/nginx/certs", str(tmp)),
        ("/var/log/nginx", str(tmp)),
        ("pid /run/nginx.pid;", f"pid {tmp}/nginx.pid;"),
        ("listen [::]:80;", ""),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
    ]:
        assert old in text, old  # the test must notice when the file changes under it
        text = text.replace(old, new)
    out = tmp / "nginx.conf"
    out.write_text(text)
    return out


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = _need("nginx")
    conf = adapted(tmp_path, "127.0.0.1:8000", 8080, 8443)
    r = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "e.log")],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "syntax is ok" in r.stderr and "test is successful" in r.stderr


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[httpx.Client, Server, str]]:
    nginx = _need("nginx")
    server = Server(tmp_path / "data", FOOTFALL_TRUSTED_PROXIES="1").start()
    http_port, https_port = free_port(), free_port()
    conf = adapted(tmp_path, f"127.0.0.1:{server.port}", http_port, https_port)
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "e.log"),
                             "-g", "daemon off;"], stderr=subprocess.PIPE)  # fmt: skip
    base = f"https://127.0.0.1:{https_port}"
    client = httpx.Client(base_url=base, verify=False, timeout=10)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.get("/api/health")
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
        yield client, server, f"http://127.0.0.1:{http_port}"
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
        server.stop()


HSTS = "max-age=63072000; includeSubDomains"


@pytest.mark.slow
def test_nginx_in_front_of_footfall(proxied: tuple[httpx.Client, Server, str]) -> None:
    client, server, plain = proxied
    status, site = server.admin_post("/api/site/create", {"name": "N", "domains": ["n.example"]})
    assert status == 201
    # Preflight: answered by nginx, with the CORS headers.
    pre = client.options("/api/event", headers={"origin": "https://n.example",
                                                "access-control-request-method": "POST"})  # fmt: skip
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    assert pre.headers["strict-transport-security"] == HSTS
    # An event: through to Footfall, with CORS headers once (Footfall's own are hidden).
    event = {"event_type": "pageview", "path": "/", "user_agent": UA}
    r = client.post("/api/event", json=event, headers={"x-api-key": site["api_key"]})
    assert r.status_code == 202, r.text
    assert r.headers.get_list("access-control-allow-origin") == ["*"]
    assert r.headers.get_list("x-content-type-options") == ["nosniff"]
    # The content-hashed tracker: a year, immutable, compressed.
    manifest = client.get("/js/manifest.json").json()
    hashed = next(v for v in _strings(manifest) if re.fullmatch(r".*footfall\.[0-9a-f]{16}\.js", v))
    js = client.get("/js/" + hashed.rsplit("/", 1)[-1], headers={"accept-encoding": "gzip"})
    assert js.status_code == 200 and js.headers["content-encoding"] == "gzip"
    assert js.headers.get_list("cache-control") == ["public, max-age=31536000, immutable"]
    assert client.get("/js/footfall.js").headers["cache-control"] == "public, max-age=300"
    # Plain http: redirected to https, POST kept (308).
    moved = httpx.post(plain + "/api/event", json=event, follow_redirects=False)
    assert moved.status_code == 308 and moved.headers["location"].startswith("https://")
    # The API: 100 requests/s with a burst of 200, then 429 (per client address). Sent 16
    # at a time: one after another, a loaded machine may not reach 100 requests/s at all.
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: client.get("/api/health").status_code, range(600)))
    assert set(codes) == {200, 429} and codes.count(200) >= 150


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
