"""The dashboard details a Plausible user notices in the first hour, in headless Chromium
against a real ``footfall serve``: countries as flag and name, capitalised device names,
"1 current visitor", whole-number y-axis ticks, the running bucket dashed with later
buckets left out, top pages without paths that only custom events carried, visits with
local times and "12m 49s" durations, and the realtime per-minute chart.

The site's zone (Asia/Kolkata) differs from the browser's (America/New_York) and from UTC,
so every time shown must have been placed in the site's zone. uPlot is wrapped before the
page loads (``CAPTURE``) so the tests read the drawn series and axis ticks from the chart.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.serverproc import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
ZONE = "Asia/Kolkata"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
NOW = datetime.now(UTC).replace(microsecond=0)
GB_START = NOW - timedelta(minutes=40)  # the GB visit: two pageviews 769 s apart
GB_DURATION = 12 * 60 + 49
# Every uPlot the page builds, kept on window.__plots (the vendored build sets window.uPlot).
CAPTURE = """(() => {
  let real;
  window.__plots = [];
  Object.defineProperty(window, 'uPlot', { configurable: true, get: () => real,
    set: (v) => { real = new Proxy(v, { construct(t, args) {
      const p = Reflect.construct(t, args); window.__plots.push(p); return p; } }); } });
})();"""
LAST_PLOT = """() => { const p = window.__plots[window.__plots.length - 1];
  return { data: p.data, series: p.series.map((s) => ({ label: s.label || '', dash: s.dash || null })),
           yticks: p.axes[1]._values }; }"""


def event(path: str, visitor: str, at: datetime, **kw: Any) -> dict[str, Any]:
    return {
        "event_type": "pageview",
        "path": path,
        "url": "https://shop.example" + path,
        "visitor_id": visitor,
        "timestamp": at.isoformat(),
        "user_agent": CHROME,
        "ip": "81.2.69.142",
        **kw,
    }


def dataset() -> list[dict[str, Any]]:
    """A US phone visitor 2 min ago; a GB desktop visit of 12m 49s; a visitor whose only
    event is a custom event on /api/hook (a path with no pageview); a reader of /long-read
    whose engagement event (25 min ago) came 10 minutes after the pageview, so that the
    realtime view's 30 minutes hold the engagement but not the pageview."""
    return [
        event("/", "us1", NOW - timedelta(minutes=2), ip="8.8.8.8", user_agent=IPHONE),
        event("/", "gb1", GB_START),
        event("/about", "gb1", GB_START + timedelta(seconds=GB_DURATION)),
        {
            **event("/api/hook", "hook", NOW - timedelta(minutes=30), ip="8.8.8.8"),
            "event_type": "Signup",
        },
        event("/long-read", "reader", NOW - timedelta(minutes=35)),
        {
            **event("/long-read", "reader", NOW - timedelta(minutes=25)),
            "event_type": "engagement",
            "engaged_ms": 600_000,
            "scroll_depth": 90,
            "interactive": False,
        },
    ]


class Ctx:
    server: Server
    site_id = ""
    key = ""
    state: Any = None
    errors: list[str] = []
    sent: list[dict[str, Any]] = []  # events a test sent besides the dataset


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Ctx]:
    tmp = tmp_path_factory.mktemp("details")
    server = Server(tmp / "data", FOOTFALL_ALLOW_HEADLESS="1", FOOTFALL_LIVE_INTERVAL_S="1").start()
    c = Ctx()
    c.sent = []
    c.server, c.errors = server, []
    try:
        cli = [sys.executable, "-m", "footfall.cli", "users", "create", "--email", OWNER, "--owner"]
        done = subprocess.run(
            cli, env=server.env, input=PASSWORD + "\n", capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        status, site = server.admin_post(
            "/api/site/create", {"name": "Shop", "domains": ["shop.example"], "timezone": ZONE}
        )
        assert status == 201, site
        c.site_id, c.key = site["site_id"], site["api_key"]
        status, body = server.post("/api/events", {"events": dataset()}, {"x-api-key": c.key})
        assert status == 202 and body["accepted"] == len(dataset()), body
        deadline = time.monotonic() + 15
        while visitors(c) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        page = new_page(c, browser)
        page.goto(server.url("/login"))
        page.fill("input[name=email]", OWNER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        c.state = page.context.storage_state()
        page.context.close()
        yield c
    finally:
        server.stop()


def visitors(c: Ctx, date_range: str = "7d") -> int:
    status, data = c.server.admin_post(
        "/api/v2/query", {"site_id": c.site_id, "metrics": ["visitors"], "date_range": date_range}
    )
    assert status == 200, data
    return int(data["results"][0]["metrics"][0]) if data["results"] else 0


def new_page(c: Ctx, browser: Any) -> Any:
    context = browser.new_context(
        viewport={"width": 1280, "height": 1000},
        locale="en-US",
        timezone_id="America/New_York",
        accept_downloads=True,
        bypass_csp=True,
        storage_state=c.state,
    )
    context.add_init_script(CAPTURE)
    page = context.new_page()
    page.on("pageerror", lambda exc: c.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and "Failed to load resource" not in m.text
            and c.errors.append(f"console: {m.text}")
        ),
    )
    return page


def dashboard(c: Ctx, browser: Any, query: str = "period=day") -> Any:
    page = new_page(c, browser)
    page.goto(c.server.url(f"/sites/{c.site_id}?{query}"))
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=15000)
    return page


def rows(page: Any, selector: str) -> list[str]:
    return [
        " ".join(t.split())
        for t in page.locator(f"{selector} li.row:not(.head) .rowlabel").all_inner_texts()
    ]


def test_countries_as_flag_and_name_devices_capitalised(ctx: Ctx, browser: Any) -> None:
    page = dashboard(ctx, browser, "period=7d")
    page.click("#panel-locations button[data-tab=country]")
    page.wait_for_selector("#list-locations:not([aria-busy])")
    assert sorted(rows(page, "#list-locations")) == ["🇬🇧 United Kingdom", "🇺🇸 United States"]
    assert sorted(rows(page, "#list-devices")) == ["Desktop", "Mobile"]
    page.click("#list-locations button.rowpick:has-text('United Kingdom')")
    page.wait_for_selector("#filters .chip")
    assert "f=visit%3Acountry%7CGB" in page.url  # the filter keeps the code
    assert " ".join(page.inner_text("#filters .chip").split()) == "Country is 🇬🇧 United Kingdom ✕"
    assert ctx.errors == []
    page.context.close()


def test_one_current_visitor_is_singular(ctx: Ctx, browser: Any) -> None:
    # us1 was seen 2 minutes before the module's data was sent; on a slow machine more
    # than the realtime window may have passed since, so us1 is seen again now.
    again = event("/", "us1", datetime.now(UTC), ip="8.8.8.8", user_agent=IPHONE)
    status, _ = ctx.server.post("/api/event", again, {"x-api-key": ctx.key})
    assert status == 202
    ctx.sent.append(again)
    page = new_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}/realtime"))
    page.wait_for_function(
        "document.getElementById('live-count').textContent === '1'", timeout=15000
    )
    assert " ".join(page.inner_text("p.live").split()) == "1 current visitor"  # us1, 2 min ago
    newcomer = event("/", "newcomer", datetime.now(UTC))
    status, _ = ctx.server.post("/api/event", newcomer, {"x-api-key": ctx.key})
    assert status == 202
    ctx.sent.append(newcomer)
    page.wait_for_function(
        "document.getElementById('live-count').textContent === '2'", timeout=15000
    )
    assert " ".join(page.inner_text("p.live").split()) == "2 current visitors"
    assert ctx.errors == []
    page.context.close()


@pytest.mark.parametrize("query", ["period=day", "period=7d&f=visit%3Acountry%7CGB"])
def test_small_counts_get_whole_number_ticks(ctx: Ctx, browser: Any, query: str) -> None:
    page = dashboard(ctx, browser, query)  # at most 1 or 2 visitors in any bucket
    ticks = page.evaluate(LAST_PLOT)["yticks"]
    assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
    assert len(set(ticks)) == len(ticks), ticks  # no "0, 1, 1, 2" from rounded halves
    assert ctx.errors == []
    page.context.close()


def local_label(at: datetime, fmt: str) -> str:
    return at.astimezone(ZoneInfo(ZONE)).strftime(fmt)


@pytest.mark.parametrize(("period", "fmt"), [("day", "%Y-%m-%d %H:00:00"), ("month", "%Y-%m-%d")])
def test_running_bucket_dashed_and_later_buckets_absent(
    ctx: Ctx, browser: Any, period: str, fmt: str
) -> None:
    page = dashboard(ctx, browser, f"period={period}")
    chart = page.evaluate(LAST_PLOT)
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(ZONE)).date()  # hours of today, or days of this month
    labels = (
        [f"{today} {h:02d}:00:00" for h in range(24)]
        if period == "day"
        else [today.replace(day=d).isoformat() for d in range(1, len(chart["data"][0]) + 1)]
    )
    at = labels.index(local_label(now, fmt))
    done, running = chart["data"][1], chart["data"][2]
    assert chart["series"][2]["dash"], chart["series"]  # the running bucket is dashed
    assert all(v is None for v in done[at:]) and all(v is None for v in running[at + 1 :])
    assert all(v is not None for v in done[:at])  # finished buckets are drawn, zero or not
    # The visitors of every event sent, at the times they were sent: the realtime tests
    # send us1 again and a newcomer, which fall in another hour than the dataset's when
    # the suite crosses one (Asia/Kolkata's hours begin at :30 UTC).
    mine = {
        e["visitor_id"]
        for e in dataset() + ctx.sent
        if local_label(datetime.fromisoformat(e["timestamp"]), fmt) == labels[at]
    }
    assert running[at] == len(mine)
    assert ctx.errors == []
    page.context.close()


def test_top_pages_leave_out_a_path_without_pageviews(ctx: Ctx, browser: Any) -> None:
    page = dashboard(ctx, browser, "period=7d")
    assert sorted(rows(page, "#list-pages")) == ["/", "/about", "/long-read"]
    assert "Signup" in rows(page, "#list-events")  # the custom event itself is still counted
    page.click("#panel-pages button.details")
    page.wait_for_selector("#details-body li.row:not(.head)")
    assert sorted(rows(page, "#details-body")) == ["/", "/about", "/long-read"]
    page.click("#details-close")
    # The hook visitor's visit (one custom event) has no entry or exit page: no "(none)".
    for tab, want in (("entry", ["/", "/long-read"]), ("exit", ["/", "/about", "/long-read"])):
        page.click(f"#panel-pages button[data-tab={tab}]")
        page.wait_for_selector("#list-pages:not([aria-busy])")
        assert sorted(rows(page, "#list-pages")) == want, tab
    # With the goal's event filtered, the pages are where it happened (no pageviews there).
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d&f=event%3Aname%7CSignup"))
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=15000)
    assert rows(page, "#list-pages") == ["/api/hook"]
    # Realtime: /long-read's pageview is older than 30 minutes, only its engagement is in.
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}/realtime"))
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=15000)
    shown = rows(page, "#list-pages")
    assert "/" in shown and "/long-read" not in shown, shown
    assert ctx.errors == []
    page.context.close()


def test_visits_show_site_local_times_and_minutes_seconds(ctx: Ctx, browser: Any) -> None:
    page = new_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}/sessions?period=7d"))
    local = GB_START.astimezone(ZoneInfo(ZONE))
    started = f"{local.day} {local:%b %Y, %H:%M:%S}"
    row = page.locator("#sessions tbody tr", has_text=started)
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[:3] == [started, "12m 49s", "2"], cells
    assert cells[-2:] == ["Desktop", "🇬🇧 United Kingdom"], cells
    assert f"Started ({ZONE})" in page.inner_text("#sessions thead")
    row.locator("a").click()
    page.wait_for_selector("#timeline")
    facts = " ".join(page.inner_text("dl.facts").split())
    assert f"{started} ({ZONE})" in facts and "12m 49s" in facts and "🇬🇧 United Kingdom" in facts
    end = (GB_START + timedelta(seconds=GB_DURATION)).astimezone(ZoneInfo(ZONE))
    times = page.locator("#timeline time").all_inner_texts()
    assert times == [started, f"{end.day} {end:%b %Y, %H:%M:%S}"], times
    assert ctx.errors == []
    page.context.close()


def test_realtime_chart_per_minute_for_30_minutes(ctx: Ctx, browser: Any) -> None:
    page = new_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}/realtime"))
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=15000)
    assert page.is_visible("#chart canvas")
    assert "per minute, last 30 minutes" in page.inner_text("#chart-legend")
    with page.expect_download() as dl:
        page.click("#export-csv")
    chart = {
        r[2]: r[4]
        for r in (line.split(",") for line in Path(dl.value.path()).read_text().splitlines())
        if r[0] == "chart"
    }
    assert len(chart) == 30, chart
    us1 = local_label(NOW - timedelta(minutes=2), "%Y-%m-%d %H:%M:00")
    assert chart[us1] == "1", (us1, chart)  # the US visitor, in its minute of the site's zone
    quiet = local_label(NOW - timedelta(minutes=10), "%Y-%m-%d %H:%M:00")
    assert chart[quiet] == "0"
    assert ctx.errors == []
    page.context.close()
