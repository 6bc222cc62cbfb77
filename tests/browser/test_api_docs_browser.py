"""``/docs`` in headless Chromium against a real ``footfall serve``: Swagger UI renders
every operation of ``/api/openapi.json`` under the page's own Content-Security-Policy
(no violation, no script error), and the page asks no host but this server for anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.serverproc import Server

pytestmark = [pytest.mark.browser]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data").start()
    try:
        yield srv
    finally:
        srv.stop()


def test_docs_renders_every_endpoint_from_this_server_only(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    requested: list[str] = []
    problems: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        requested.append(url)
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            route.abort()  # the test network has no way out; record, do not wait
        else:
            route.continue_()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    # A CSP violation is reported on the console as an error ("Refused to ...").
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))

    page.goto(server.url("/docs"))
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    rendered = page.eval_on_selector_all(
        ".opblock",
        "els => els.map(e => [e.querySelector('.opblock-summary-path').dataset.path,"
        " e.querySelector('.opblock-summary-method').textContent.toLowerCase()])",
    )
    doc = server.get("/api/openapi.json")
    expected = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert {(p, m) for p, m in rendered} == expected
    assert page.locator(".info .title").first.inner_text().startswith("Footfall API")

    # Opening an admin operation shows its request body's fields.
    create = page.locator(".opblock-post:has([data-path='/api/site/create'])")
    create.locator(".opblock-summary").first.click()
    create.locator(".opblock-body").wait_for()
    create.locator("text=domains").first.wait_for()

    context.close()
    foreign = [u for u in requested if urlsplit(u).hostname not in ("127.0.0.1", "localhost")]
    assert foreign == []
    assert problems == []
    assert any(u.endswith("/static/vendor/swagger-ui-bundle.js") for u in requested)
