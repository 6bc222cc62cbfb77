"""Script errors and the all-sites page in headless Chromium against a real ``footfall
serve``: the extended tracker with ``data-errors="true"`` reports each uncaught error once
per pageview and at most five (a loop of errors costs five events, not a flood); the
dashboard's errors panel lists them (message, source:line, events, visitors); the sites
page shows each site's visitors, sparkline and change; the site switcher opens the same
view of another site. Screenshots go to docs/screenshots/ when ``FOOTFALL_SCREENSHOTS=1``."""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import Stack, _Handler, logged_in
from tests.browser.test_product_browser import OWNER, PASSWORD, SHOTS, UA
from tests.serverproc import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOW = datetime.now(UTC).replace(microsecond=0)
APP_JS = "https://shop.example/static/app.js"


def err(who: str, message: str, line: int, hours_ago: int) -> dict[str, Any]:
    at = (NOW - timedelta(hours=hours_ago)).isoformat()
    return {"event_type": "JS Error", "path": "/cart", "visitor_id": who, "timestamp": at,
            "user_agent": UA, "ip": "81.2.69.142",
            "metadata": {"message": message, "source": APP_JS, "line": line}}  # fmt: skip


def view(who: str, days_ago: int) -> dict[str, Any]:
    at = (NOW - timedelta(days=days_ago, hours=1)).isoformat()
    return {"event_type": "pageview", "path": "/", "visitor_id": who, "timestamp": at,
            "user_agent": UA, "ip": "81.2.69.142"}  # fmt: skip


class Ctx:
    server: Server
    sites: dict[str, str]
    live: Stack
    errors: list[str]


def _create_site(server: Server, name: str, domain: str) -> dict[str, Any]:
    status, site = server.admin_post("/api/site/create", {"name": name, "domains": [domain]})
    assert status == 201, site
    return dict(site)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    tmp = tmp_path_factory.mktemp("errors")
    server = Server(tmp / "data", FOOTFALL_ALLOW_HEADLESS="1").start()
    cli = [sys.executable, "-m", "footfall.cli", "users", "create", "--email", OWNER, "--owner"]
    done = subprocess.run(cli, env=server.env, input=PASSWORD + "\n", capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    c = Ctx()
    c.server, c.errors, c.sites = server, [], {}
    shop = _create_site(server, "Shop", "shop.example")
    blog = _create_site(server, "Blog", "blog.example")
    live = _create_site(server, "Live", "127.0.0.1")
    c.sites = {"Shop": shop["site_id"], "Blog": blog["site_id"], "Live": live["site_id"]}
    events = [view(f"s{i}", 1 + i % 5) for i in range(9)] + [
        err("s1", "TypeError: cart is undefined", 42, 3),
        err("s1", "TypeError: cart is undefined", 42, 2),
        err("s2", "TypeError: cart is undefined", 42, 2),
        err("s3", "TypeError: cart is undefined", 42, 1),
        err("s1", "ReferenceError: gtag is not defined", 7, 1),
    ]
    status, body = server.post("/api/events", {"events": events}, {"x-api-key": shop["api_key"]})
    assert status == 202 and body["rejected"] == [], body
    status, body = server.post("/api/events", {"events": [view("b1", 2), view("b1", 9)]},
                               {"x-api-key": blog["api_key"]})  # fmt: skip
    assert status == 202 and body["rejected"] == [], body
    pages = tmp / "pages"
    pages.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(pages))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    c.live = Stack(server, pages, httpd.server_address[1], live["site_id"], live["api_key"],
                   server.admin)  # fmt: skip
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield c
    finally:
        httpd.shutdown()
        httpd.server_close()
        server.stop()


def owner_page(c: Ctx, browser: Any, path: str) -> Any:
    page = logged_in(browser, c.server, OWNER, PASSWORD, c.errors, height=900)
    page.goto(c.server.url(path))
    return page


def error_counts(c: Ctx) -> dict[str, int]:
    body = {"site_id": c.sites["Live"], "date_range": "day", "metrics": ["events"],
            "dimensions": ["event:props:message"],
            "filters": [["is", "event:name", ["JS Error"]]]}  # fmt: skip
    status, data = c.server.admin_post("/api/v2/query", body)
    assert status == 200, data
    return {r["dimensions"][0]: r["metrics"][0] for r in data["results"]}


def test_the_tracker_reports_each_error_once_and_at_most_five(ctx: Ctx, browser: Any) -> None:
    # One error thrown ten times, then seven different ones, all in one pageview; then an
    # SPA navigation (a new pageview) and the first error again.
    script = """<script>
      window.boom = () => {
        for (let i = 0; i < 10; i++) setTimeout(() => { throw new Error('again'); });
        for (let i = 0; i < 7; i++) setTimeout(() => { throw new Error('other ' + i); });
      };
      window.next = () => { history.pushState({}, '', '/second');
                            setTimeout(() => { throw new Error('again'); }); };
    </script>"""
    url = ctx.live.write_page("errors.html", 'data-errors="true"', body=script,
                              build="footfall.ext.js")  # fmt: skip
    page = browser.new_context().new_page()
    thrown: list[str] = []
    page.on("pageerror", lambda exc: thrown.append(str(exc)))
    page.goto(url)
    page.wait_for_function("!!(window.footfall && window.footfall.flush)")
    page.evaluate("window.boom()")
    page.wait_for_function("document.readyState === 'complete'")
    page.evaluate("new Promise((done) => setTimeout(done, 50))")  # the timers have fired
    page.evaluate("window.next()")
    page.evaluate("new Promise((done) => setTimeout(done, 50))")
    assert len(thrown) == 18  # the page saw every error; the tracker sent six
    page.evaluate("window.footfall.flush()")
    want = {"Uncaught Error: again": 2, **{f"Uncaught Error: other {i}": 1 for i in range(4)}}
    deadline = time.monotonic() + 20
    while (got := error_counts(ctx)) != want and time.monotonic() < deadline:
        time.sleep(0.2)
    assert got == want
    body = {"site_id": ctx.sites["Live"], "date_range": "day", "metrics": ["events"],
            "dimensions": ["event:props:source", "event:props:line"],
            "filters": [["is", "event:props:message", ["Uncaught Error: other 0"]]]}  # fmt: skip
    status, data = ctx.server.admin_post("/api/v2/query", body)
    assert status == 200 and len(data["results"]) == 1, data
    source, line = data["results"][0]["dimensions"]
    assert source == url and int(line) > 0
    page.context.close()


def test_the_errors_panel_lists_message_source_count_visitors(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser, f"/sites/{ctx.sites['Shop']}?period=7d")
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=20000)
    rows = page.evaluate("""() => [...document.querySelectorAll('#errors-table tbody tr')].map(
        tr => [...tr.querySelectorAll('td')].map(td => td.textContent))""")
    assert rows == [
        ["TypeError: cart is undefined", f"{APP_JS}:42", "4", "3"],
        ["ReferenceError: gtag is not defined", f"{APP_JS}:7", "1", "1"],
    ]
    page.locator("#panel-errors").screenshot(path=str(SHOTS / "errors.png"))
    assert ctx.errors == []
    page.context.close()


def test_the_sites_page_and_the_site_switcher(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser, "/?period=7d")
    shop = page.locator(f"li.siterow[data-site-id='{ctx.sites['Shop']}']")
    assert shop.locator(".visitors").inner_text() == "9"  # s0..s8, 1 to 5 days ago
    assert shop.locator("polyline").count() == 1
    blog = page.locator(f"li.siterow[data-site-id='{ctx.sites['Blog']}']")
    # b1 two days ago; and nine days ago, in the previous 7 days: no change, 1 against 1
    assert (blog.locator(".visitors").inner_text(), blog.locator(".change").inner_text()) == (
        "1", "0.0%")  # fmt: skip
    page.locator("section.card").first.screenshot(path=str(SHOTS / "sites.png"))
    page.goto(ctx.server.url(f"/sites/{ctx.sites['Shop']}/sessions"))
    page.wait_for_selector(".switcher:not([hidden])")
    assert sorted(page.locator("#site-switcher option").all_inner_texts()) == [
        "Blog",
        "Live",
        "Shop",
    ]
    page.select_option("#site-switcher", ctx.sites["Blog"])
    page.wait_for_url(re.compile(f"/sites/{ctx.sites['Blog']}/sessions$"))
    assert page.inner_text("#site-name") == "Blog"
    assert ctx.errors == []
    page.context.close()
