"""Browser test rig: Debian's headless Chromium (driven by Playwright, never a downloaded
browser), the real ``footfall serve`` subprocess, and a tiny static HTTP server on another
port for the test pages, so every tracker request is cross-origin as on a real site.

The headless browser's user agent passes the bot filter only because the server runs with
``FOOTFALL_ALLOW_HEADLESS=1``. Without Chromium or Playwright the tests skip, unless
``FOOTFALL_REQUIRE_SERVICES=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import require_services
from tests.serverproc import Server, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent.parent


def _skip(reason: str) -> None:
    if require_services():
        pytest.fail(reason)
    pytest.skip(reason)


# One Playwright driver and one Chromium for every browser test; each test opens its own
# context. (Measured: no faster than one per module on a quiet machine, 121 s against
# 116 s for tests/browser; the driver's start costs seconds only under load.) Package
# scope, not session:
# while Playwright's sync API is open its event loop runs in this thread, and an asyncio
# test run after it would fail, so they close when the last test of tests/browser (a
# package: it has an __init__.py) is done.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _skip("Debian chromium is not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the page directory; ``/fail/...`` answers 500 (a broken collector)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(500)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Stack:
    """A footfall server with one site, a page server, and helpers to write pages."""

    server: Server
    pages: Path
    page_port: int
    site_id: str = ""
    key: str = ""
    token: str = ""
    uuid: str = ""
    errors: list[str] = field(default_factory=list)

    def page_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.page_port}/{name}"

    def write_page(
        self,
        name: str,
        script_attrs: str = "",
        body: str = "",
        head: str = "",
        build: str = "footfall.js",
        api: str | None = None,
    ) -> str:
        tag = (
            f'<script defer src="{self.server.url("/js/" + build)}" data-site="{self.key}" '
            f'data-api="{api or self.server.url("")}" {script_attrs}></script>'
        )
        (self.pages / name).write_text(
            f"<!doctype html><html><head><title>{name}</title>{head}{tag}</head>"
            f"<body>{body}</body></html>"
        )
        return self.page_url(name)

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.server.get(f"/api/stats?site_id={self.site_id}", self.token)[
            "data"
        ]
        return data

    def wait_stats(
        self, ok: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data = self.stats()
            if ok(data) or time.monotonic() > deadline:
                return data
            time.sleep(0.2)

    def stored_events(self) -> list[tuple[Any, ...]]:
        """Stop the server (it drains the spool) and read the DuckDB file directly."""
        if self.server.proc is not None and self.server.proc.poll() is None:
            assert self.server.stop() == 0, self.server.log()
        path = Path(self.server.env["FOOTFALL_DATA_DIR"]) / "events.duckdb"
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(
                "SELECT name, pathname, props, session_id, scroll_depth, duration_ms, "
                "load_time_ms, interactive FROM events WHERE site_id = ? ORDER BY ts",
                [self.site_id],
            ).fetchall()

    def watch(self, page: Any) -> Any:
        """Collect page errors and console errors (other than failed network loads)."""
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and "Failed to load resource" not in m.text
                and self.errors.append(f"console: {m.text}")
            ),
        )
        return page


def logged_in(browser: Any, server: Server, email: str, password: str, errors: list[str],
              height: int = 1000) -> Any:  # fmt: skip
    """A page in a new context, logged in through the login form; page errors and answers
    of 400 and above are appended to ``errors``."""
    # CSP bypassed only so that wait_for_function may evaluate its expression.
    context = browser.new_context(viewport={"width": 1280, "height": height}, bypass_csp=True)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    page.goto(server.url("/login"))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return page


@pytest.fixture
def stack(tmp_path: Path, browser: Any) -> Iterator[Stack]:
    pages = tmp_path / "pages"
    pages.mkdir()
    handler = functools.partial(_Handler, directory=str(pages))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server = Server(tmp_path / "data", FOOTFALL_ALLOW_HEADLESS="1").start()
    st = Stack(server, pages, httpd.server_address[1])
    status, site = server.admin_post(
        "/api/site/create", {"name": "Browser", "domains": ["127.0.0.1"]}
    )
    assert status == 201, site
    st.site_id, st.key = site["site_id"], site["api_key"]
    status, tok = server.admin_post("/api/tokens", {"site_id": st.site_id})
    assert status == 201, tok
    st.token = tok["token"]
    try:
        yield st
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    context = browser.new_context()
    p = stack.watch(context.new_page())
    yield p
    context.close()


__all__ = ["ROOT", "Stack", "free_port", "logged_in"]
