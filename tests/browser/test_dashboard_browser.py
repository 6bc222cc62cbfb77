"""The dashboard in headless Chromium against a real ``footfall serve``: log in, create a
site, send events through the collection API, and check what a person sees — numbers equal
to the query API's, click-to-filter changing every panel, date ranges and back/forward, the
live count over SSE, CSV export, roles, the public shared link, logout — and that hostile
strings (paths, referrers, props, UTM values, site names) stay inert text everywhere.

One server serves every test in this module (they run in order), to keep the whole file
well under two minutes. Screenshots of the main pages go to docs/screenshots/ when
``FOOTFALL_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT
from tests.serverproc import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# FOOTFALL_SCREENSHOTS=1 refreshes the README's screenshots; otherwise they go to a temp dir
# so that a test run leaves the working tree clean.
SHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("FOOTFALL_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "footfall-screenshots"
)
OWNER, VIEWER, PASSWORD = "owner@example.com", "viewer@example.com", "correct horse battery"
SITE_NAME = "Evil \"<b>bold</b>\" & 'co' <img src=x onerror=alert(1)>"
EVIL_PATH = "/<script>alert(1)</script>"
EVIL_UTM = '"><svg onload=alert(1)>'
EVIL_PROP = 'it\'s "quoted" <b>&</b>'
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


class Ctx:
    """What the tests in this module share: the server, the site, and findings."""

    server: Server
    site_id = ""
    key = ""
    share_url = ""
    dialogs: list[str] = []
    errors: list[str] = []


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    tmp = tmp_path_factory.mktemp("dash")
    server = Server(tmp / "data", FOOTFALL_ALLOW_HEADLESS="1", FOOTFALL_LIVE_INTERVAL_S="1")
    server.start()
    cli = [sys.executable, "-m", "footfall.cli", "users", "create", "--email", OWNER, "--owner"]
    done = subprocess.run(
        cli, env=server.env, input=PASSWORD + "\n", capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    c = Ctx()
    c.server, c.dialogs, c.errors = server, [], []
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield c
    finally:
        server.stop()


def watch(c: Ctx, page: Any) -> Any:
    page.on("dialog", lambda d: (c.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda exc: c.errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and "Failed to load resource" not in m.text
            and c.errors.append(f"console: {m.text}")
        ),
    )
    page.on(
        "response",
        lambda r: r.status >= 400 and r.status != 403 and c.errors.append(f"{r.status} {r.url}"),
    )
    return page


def new_page(c: Ctx, browser: Any, **kw: Any) -> Any:
    # CSP bypassed: the hostile-data checks must hold by escaping alone, not by the CSP.
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, bypass_csp=True, **kw)
    return watch(c, context.new_page())


def login(page: Any, c: Ctx, email: str) -> None:
    page.goto(c.server.url("/login"))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def event(path: str, visitor: str, minutes_ago: float, **kw: Any) -> dict[str, Any]:
    ts = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "event_type": "pageview",
        "path": path,
        "url": "https://shop.example" + path,
        "visitor_id": visitor,
        "timestamp": ts.isoformat(),
        "user_agent": CHROME,
        "ip": "81.2.69.142",
        **kw,
    }


LOAD_MS = [300, 500, 700]  # the Google visitors' /pricing load times
REVENUE = [9.99, 19.99, 30.0]  # what their signups earned


def quantile_cont(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (docs/design.md's load time percentiles)."""
    xs, pos = sorted(values), q * (len(values) - 1)
    lo = int(pos)
    return xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * (pos - lo)


def dataset() -> list[dict[str, Any]]:
    """Google visitors: mobile, US, land on /pricing, sign up. Others: desktop, GB, /."""
    out: list[dict[str, Any]] = []
    for i in range(3):
        v = f"g{i}"
        g = {"referrer": "https://www.google.com/", "user_agent": IPHONE, "ip": "8.8.8.8"}
        out += [
            event("/pricing", v, 30 + i, load_time_ms=LOAD_MS[i], **g),
            event("/signup", v, 29 + i, **g),
            {
                **event("/signup", v, 28 + i, **g),
                "event_type": "Signup",
                "metadata": {"plan": "pro"},
                "revenue": REVENUE[i],
            },
        ]
    for i in range(5):
        v = f"o{i}"
        out += [
            event("/", v, 20 + i, referrer="https://news.ycombinator.com/item?id=1"),
            {**event("/", v, 19 + i), "event_type": "Download", "metadata": {"file": EVIL_PROP}},
        ]
    # g0 stayed 45 s on /pricing and scrolled to 80% (the tracker's engagement event).
    out += [
        {
            **event("/pricing", "g0", 29.5, **g),
            "event_type": "engagement",
            "engaged_ms": 45_000,
            "scroll_depth": 80,
            "interactive": False,
        }
    ]
    # Hostile values, and two visits three days ago (outside "today").
    out += [
        event(
            EVIL_PATH,
            "evil",
            10,
            referrer="javascript:alert(1)",
            url=f"https://shop.example/x?utm_source={EVIL_UTM}&utm_campaign=%3Cb%3E",
        )
    ]
    out += [event("/old", f"old{i}", 3 * 24 * 60) for i in range(2)]
    return out


def api(c: Ctx, body: dict[str, Any]) -> dict[str, Any]:
    status, data = c.server.admin_post("/api/v2/query", {"site_id": c.site_id, **body})
    assert status == 200, data
    result: dict[str, Any] = data
    return result


def stat(page: Any, metric: str) -> str:
    return str(page.inner_text(f"#stat-{metric} .statvalue")).strip()


def settled(page: Any) -> None:
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=15000)


def panel_texts(page: Any) -> dict[str, str]:
    return {
        p: page.inner_text(f"#list-{p}")
        for p in ("sources", "pages", "locations", "devices", "events")
    }


def test_setup_page_is_closed_and_login_page(ctx: Ctx, browser: Any) -> None:
    page = new_page(ctx, browser)
    assert page.goto(ctx.server.url("/setup")).status == 404  # an owner exists already
    assert "Setup is finished" in page.inner_text("main")
    ctx.errors.clear()
    page.goto(ctx.server.url("/sites/anything"))
    page.wait_for_selector("input[name=email]")
    assert "/login?next=" in page.url
    page.screenshot(path=str(SHOTS / "login.png"))
    page.context.close()


def test_login_create_site_send_events_numbers_match(ctx: Ctx, browser: Any) -> None:
    page = new_page(ctx, browser)
    login(page, ctx, OWNER)
    page.fill("#create-site input[name=name]", SITE_NAME)
    page.fill("#create-site input[name=domains]", "shop.example")
    page.click("#create-site button[type=submit]")
    ctx.key = page.inner_text("#new-key").strip()
    ctx.site_id = page.get_attribute("#nav-settings", "href").split("/")[2]  # /sites/<id>/settings
    assert page.inner_text("#site-name") == SITE_NAME  # the name, as literal text
    assert ctx.key.startswith("ffk_") and ctx.key in page.inner_text("#snippet")
    status, body = ctx.server.post("/api/events", {"events": dataset()}, {"x-api-key": ctx.key})
    assert status == 202 and body["accepted"] == len(dataset()), body
    want = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        want = api(
            ctx, {"metrics": ["visitors", "visits", "pageviews", "bounce_rate"], "date_range": "7d"}
        )
        if want["results"][0]["metrics"][0] == 11:
            break
        time.sleep(0.2)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(page)
    visitors, visits, pageviews, bounce = want["results"][0]["metrics"]
    assert (stat(page, "visitors"), stat(page, "visits"), stat(page, "pageviews")) == (
        str(visitors),
        str(visits),
        str(pageviews),
    )
    assert stat(page, "bounce_rate") == f"{bounce:g}%"
    assert "Google" in page.inner_text("#list-sources")
    page.screenshot(path=str(SHOTS / "dashboard-light.png"), full_page=True)
    page.click("#theme-toggle")
    assert page.get_attribute("html", "data-theme") == "dark"
    page.wait_for_timeout(200)
    page.screenshot(path=str(SHOTS / "dashboard-dark.png"), full_page=True)
    page.click("#theme-toggle")
    assert ctx.dialogs == [] and ctx.errors == []
    ctx.owner_state = page.context.storage_state()  # type: ignore[attr-defined]
    page.context.close()


def owner_page(ctx: Ctx, browser: Any) -> Any:
    return new_page(ctx, browser, storage_state=ctx.owner_state)  # type: ignore[attr-defined]


def rows_of(page: Any, selector: str) -> list[str]:
    return [
        " ".join(t.split()) for t in page.locator(f"{selector} li.row:not(.head)").all_inner_texts()
    ]


def test_a_panel_refused_with_503_asks_again_after_its_retry_after(ctx: Ctx, browser: Any) -> None:
    """The store answers 503 with Retry-After when a rollups build holds its memory
    (footfall/store/duckdb/pressure.py): the dashboard waits and asks again."""
    page = owner_page(ctx, browser)
    refused: list[str] = []
    asked: list[float] = []

    def busy_once(route: Any) -> None:
        asked.append(time.monotonic())
        if refused:
            route.continue_()
            return
        refused.append(route.request.post_data or "")
        body = (
            '{"success": false, "error": "the store is short of memory for this query; try again"}'
        )
        route.fulfill(
            status=503, headers={"retry-after": "1"}, content_type="application/json", body=body
        )

    page.route("**/api/v2/query", busy_once)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(page)
    # The refused query was asked again, a second later, and every panel shows its numbers.
    assert len(refused) == 1
    again = [t for t in asked[1:] if t - asked[0] >= 0.9]
    assert again, asked
    assert stat(page, "visitors") == "11"
    assert "Google" in page.inner_text("#list-sources")
    assert page.locator("text=Could not load").count() == 0
    ctx.errors[:] = [e for e in ctx.errors if not e.startswith("503 ")]
    assert ctx.errors == []
    page.context.close()


def test_the_dashboard_says_why_panels_are_slow_while_the_rollups_are_built(
    ctx: Ctx, browser: Any
) -> None:
    """Answers given while a rollups build runs carry x-footfall-rollups: building (the
    server's side: tests/api/test_query_rollups_header.py); the dashboard then says the
    panels are slower for now, and stops saying it once answers come without it."""
    page = owner_page(ctx, browser)
    building = [True]

    def marked(route: Any) -> None:
        response = route.fetch()
        headers = dict(response.headers)
        if building[0]:
            headers["x-footfall-rollups"] = "building"
        route.fulfill(response=response, headers=headers)

    page.route("**/api/v2/query", marked)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(page)
    notice = page.locator("#rollups-notice")
    assert notice.is_visible()
    assert "folded into the rollups" in notice.inner_text()
    assert stat(page, "visitors") == "11"  # the numbers are there all the same
    building[0] = False
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=30d"))
    settled(page)
    assert not notice.is_visible()
    assert ctx.errors == []
    page.context.close()


def test_pages_load_time_tab_and_details_with_time_on_page(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(page)
    page.click("#panel-pages button[data-tab=speed]")
    page.wait_for_selector("#list-pages:not([aria-busy])")
    p50, p90 = (round(quantile_cont(LOAD_MS, q)) for q in (0.5, 0.9))  # 500, 660
    # Only /pricing's pageviews carried a load time: every other page is left out.
    assert rows_of(page, "#list-pages") == [f"/pricing 3 {p50} ms {p90} ms"]
    page.click("#panel-pages button[data-tab=page]")
    page.wait_for_selector("#list-pages:not([aria-busy])")
    page.click("#panel-pages button.details")
    page.wait_for_selector("#details-body li.row:not(.head)")
    pricing = next(r for r in rows_of(page, "#details-body") if r.startswith("/pricing "))
    # Time on page: g0's engaged 45 s, g1 and g2 the 60 s gap to /signup: mean 55 s.
    scroll = api(
        ctx,
        {
            "metrics": ["scroll_depth"],
            "date_range": "7d",
            "filters": [["is", "event:page", ["/pricing"]]],
        },
    )["results"][0]["metrics"][0]
    assert pricing == f"/pricing 3 3 55s {scroll}%", pricing
    assert 0 < scroll <= 80
    page.click("#details-close")
    assert ctx.dialogs == [] and ctx.errors == []
    page.context.close()


def test_a_page_filter_leaves_views_per_visit_unasked(ctx: Ctx, browser: Any) -> None:
    # The query API refuses views per visit under a page filter (as Plausible's does): the
    # dashboard shows the other top stats, a dash for it, and charts visitors instead.
    page = owner_page(ctx, browser)
    page.goto(
        ctx.server.url(
            f"/sites/{ctx.site_id}?period=7d&metric=views_per_visit&f=event%3Apage%7C%2Fpricing"
        )
    )
    settled(page)
    want = api(
        ctx,
        {
            "metrics": ["visitors", "bounce_rate"],
            "date_range": "7d",
            "filters": [["is", "event:page", ["/pricing"]]],
        },
    )["results"][0]["metrics"]
    assert stat(page, "visitors") == str(want[0]) and stat(page, "views_per_visit") == "–"
    assert page.inner_text("#chart-legend").startswith("Unique visitors")
    assert ctx.dialogs == [] and ctx.errors == []
    page.context.close()


def test_filter_by_source_changes_every_panel_range_back_and_csv(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(page)
    before = panel_texts(page)
    page.click("#list-sources button.rowpick:has-text('Google')")
    page.wait_for_selector("#filters .chip")
    settled(page)
    assert "f=visit%3Asource%7CGoogle" in page.url
    filtered = api(
        ctx,
        {
            "metrics": ["visitors", "pageviews"],
            "date_range": "7d",
            "filters": [["is", "visit:source", ["Google"]]],
        },
    )["results"][0]["metrics"]
    assert (stat(page, "visitors"), stat(page, "pageviews")) == tuple(str(v) for v in filtered)
    after = panel_texts(page)
    assert all(before[p] != after[p] for p in before), (before, after)
    assert "Hacker News" not in after["sources"] and "/pricing" in after["pages"]
    # The events panel breaks the event down by property once an event is filtered.
    page.click("#list-events button.rowpick:has-text('Signup')")
    page.wait_for_selector("#panel-events .proptitle")
    assert "pro" in page.inner_text("#panel-events")
    # Remove the chips, change the range; back/forward follow the URL.
    for _ in range(2):
        page.click("#filters .chip >> nth=0")
        settled(page)
    page.focus("#list-devices button.rowpick >> nth=0")  # keyboard: Enter adds the filter
    page.keyboard.press("Enter")
    page.wait_for_selector("#filters .chip")
    settled(page)
    page.focus("#filters .chip")
    page.keyboard.press("Enter")
    settled(page)
    assert page.locator("#filters .chip").count() == 0
    page.select_option("#range", "day")
    settled(page)
    today = api(ctx, {"metrics": ["visitors"], "date_range": "day"})["results"][0]["metrics"][0]
    assert stat(page, "visitors") == str(today) and "period=day" in page.url
    page.go_back()
    settled(page)
    assert "period=7d" in page.url and stat(page, "visitors") == "11"
    page.check("#compare")
    settled(page)
    assert "compare=1" in page.url and page.locator("#stat-visitors .change").count() == 1
    page.select_option("#compare-mode", "year_over_year")  # year over year, kept in the URL
    settled(page)
    dates = re.findall(r"(\d{4})-(\d\d-\d\d)", page.inner_text("#chart-legend"))
    assert "compare=yoy" in page.url and int(dates[2][0]) == int(dates[0][0]) - 1, dates
    page.reload()
    settled(page)
    assert page.input_value("#compare-mode") == "year_over_year" and page.is_checked("#compare")
    page.select_option("#interval", "hour")
    settled(page)
    assert "interval=hour" in page.url and "(dashed:" in page.inner_text("#chart-legend")
    page.go_back()
    settled(page)
    with page.expect_download() as dl:
        page.click("#export-csv")
    csv = Path(dl.value.path()).read_text()
    assert "top stats,,,visitors,11," in csv and "Sources,visit:source,Google,visitors,3" in csv
    assert ctx.dialogs == [] and ctx.errors == []
    page.context.close()


def test_hostile_values_are_inert_text_everywhere(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(page)
    assert EVIL_PATH in page.inner_text("#list-pages")
    page.click("#panel-sources [data-tab=referrer]")
    page.wait_for_selector("#list-sources li.row:has-text('javascript:alert(1)')")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not any(h.strip().lower().startswith(("javascript:", "data:")) for h in hrefs), hrefs
    assert page.locator("#list-sources a.extlink").count() >= 1  # news.ycombinator.com is a link
    assert page.get_attribute("#list-sources a.extlink >> nth=0", "rel") == "noopener noreferrer"
    page.click("#panel-sources [data-tab=utm_source]")
    page.wait_for_selector(f"#list-sources .rowlabel:text-is('{EVIL_UTM}')")
    page.click(f"#list-sources .rowlabel:text-is('{EVIL_UTM}')")
    page.wait_for_selector("#filters .chip")
    assert EVIL_UTM in page.inner_text("#filters")
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d&f=event%3Aname%7CDownload"))
    page.wait_for_selector("#panel-events .proptitle")
    assert EVIL_PROP in page.inner_text("#panel-events")
    assert page.get_attribute("#dashboard", "data-site-name") == SITE_NAME
    # No element was made from the data: no script, img, svg or b anywhere in the page body.
    assert (
        page.evaluate("document.querySelectorAll('main script, main img, main svg, main b').length")
        == 0
    )
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}/sessions?period=7d"))
    assert EVIL_PATH in page.inner_text("#sessions")
    page.click(f"#sessions tr:has-text('{EVIL_PATH}') a")
    assert EVIL_PATH in page.inner_text("#timeline")
    page.goto(ctx.server.url("/"))
    assert SITE_NAME in page.inner_text("#site-list")
    assert ctx.dialogs == [] and ctx.errors == []
    page.context.close()


def test_realtime_live_count_moves_when_an_event_arrives(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}/realtime"))
    page.wait_for_function("document.getElementById('live-count').textContent !== '–'")
    before = int(page.inner_text("#live-count"))
    status, _ = ctx.server.post("/api/event", event("/live", "newcomer", 0), {"x-api-key": ctx.key})
    assert status == 202
    page.wait_for_function(
        f"+document.getElementById('live-count').textContent > {before}", timeout=15000
    )
    settled(page)
    page.screenshot(path=str(SHOTS / "realtime.png"), full_page=True)
    assert ctx.dialogs == [] and ctx.errors == []
    page.context.close()


def test_settings_viewer_share_link_and_logout(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}/settings"))
    assert "Events are arriving" in page.inner_text("#verify")
    page.fill("#member-form input[name=email]", VIEWER)
    page.fill("#member-form input[name=password]", PASSWORD)
    page.click("#member-form button[type=submit]")
    assert VIEWER in page.inner_text("#members")
    page.click("#share-form button[type=submit]")
    ctx.share_url = page.get_attribute("#shares a.share-link", "href")
    page.fill("#goal-form input[name=goal_name]", "Signed up")  # a goal, shown on the dashboard
    page.fill("#goal-form input[name=goal_event]", "Signup")
    page.click("#goal-form button[type=submit]")
    assert "Signed up" in page.inner_text("#goal-list")
    # Two more goals and a funnel over all three, drawn on the dashboard.
    page.fill("#goal-form input[name=goal_name]", "Saw pricing")
    page.select_option("#goal-form select[name=goal_kind]", "page")
    page.fill("#goal-form input[name=goal_path]", "/pricing")
    page.click("#goal-form button[type=submit]")
    page.fill("#goal-form input[name=goal_name]", "Downloaded")
    page.fill("#goal-form input[name=goal_event]", "Download")
    page.click("#goal-form button[type=submit]")
    page.fill("#funnel-form input[name=funnel_name]", "Pricing to signup")
    for slot, goal_name in enumerate(["Saw pricing", "Signed up", "Downloaded"], 1):
        page.select_option(f"#funnel-form select[name=step{slot}]", label=goal_name)
    page.click("#funnel-form button[type=submit]")
    assert "Saw pricing → Signed up → Downloaded" in page.inner_text("#funnel-list")
    page.screenshot(path=str(SHOTS / "settings.png"), full_page=True)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(page)
    goal = {"date_range": "7d", "filters": [["is", "event:name", ["Signup"]]]}
    visitors, rate = api(ctx, {**goal, "metrics": ["visitors", "conversion_rate"]})["results"][0][
        "metrics"
    ]
    total = sum(Decimal(str(r)) for r in REVENUE)  # docs/design.md: sum, and mean to the cent
    average = (total / len(REVENUE)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert page.inner_text("#list-goals li.goal").split() == [
        "Signed",
        "up",
        str(visitors),
        f"{rate:g}%",
        f"{total:.2f}",
        f"{average:.2f}",
    ]  # 59.98, 19.99
    assert page.inner_text("#list-goals li.head").split()[-2:] == ["REVENUE", "AVERAGE"]
    downloads = page.inner_text("#list-goals li.goal[data-goal=Downloaded]").split()
    assert downloads[-2:] == ["0.00", "0.00"]  # no revenue on downloads
    # The three Google visitors saw /pricing, then signed up; none downloaded (dataset()).
    funnel = [" ".join(li.split()) for li in page.locator("#list-funnel li.step").all_inner_texts()]
    # Each signed up two minutes after /pricing: the median time to step 2.
    assert funnel == [
        "1. Saw pricing 3 100% – –",
        "2. Signed up 3 100% 0 (0%) 2m 0s",
        "3. Downloaded 0 0% 3 (100%) –",
    ], funnel
    everyone = api(ctx, {"date_range": "7d", "metrics": ["visitors"]})["results"][0]["metrics"][0]
    assert page.inner_text("#funnel-summary").startswith(f"3 of {everyone} visitors entered")
    page.locator("#panel-funnels").screenshot(path=str(SHOTS / "funnel.png"))
    page.click("#stat-bounce_rate")  # the funnel stays when the view changes
    settled(page)
    assert "funnel" not in page.url and page.locator("#list-funnel li.step").count() == 3
    page.click("#logout")
    page.wait_for_url(re.compile("/login"))
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}"))
    assert "/login" in page.url
    page.context.close()

    viewer = new_page(ctx, browser)
    login(viewer, ctx, VIEWER)
    viewer.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=7d"))
    settled(viewer)
    assert stat(viewer, "visitors") == "12"
    assert viewer.locator("#nav-settings").count() == 0
    response = viewer.goto(ctx.server.url(f"/sites/{ctx.site_id}/settings"))
    assert response.status == 403
    viewer.context.close()

    public = new_page(ctx, browser)
    public.goto(ctx.server.url(ctx.share_url + "?period=7d"))
    settled(public)
    assert stat(public, "visitors") == "12"
    shared_funnel = [
        " ".join(li.split()) for li in public.locator("#list-funnel li.step").all_inner_texts()
    ]
    assert shared_funnel == funnel  # through the link's own funnel endpoint
    assert public.locator("#nav-settings, #nav-sessions, #logout").count() == 0
    assert public.inner_text("#site-name") == SITE_NAME
    public.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing overflows
    public.wait_for_timeout(300)
    wide = public.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 391)
        .map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + e.getBoundingClientRect().right)""")
    assert public.evaluate("document.documentElement.scrollWidth") <= 390, wide[:8]
    public.screenshot(path=str(SHOTS / "dashboard-phone.png"), full_page=True)
    public.goto(ctx.server.url(f"/sites/{ctx.site_id}"))
    assert "/login" in public.url  # the link opens that one dashboard and nothing else
    assert ctx.dialogs == [] and ctx.errors == []
    public.context.close()
