"""The product panels in headless Chromium against a real ``footfall serve``: the goals
table (page goals with a conversion rate, columns that line up), the retention triangle
(its cells equal /api/v1/retention, its note names the eligible visitors) and the path
explorer (where visitors came from and went, the tree from an entry page; clicking a page
explores it), and the funnel panel's median times, comparison, conversion window and
breakdown. Screenshots go to docs/screenshots/ when ``FOOTFALL_SCREENSHOTS=1``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, logged_in
from tests.serverproc import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = (ROOT / "docs" / "screenshots" if os.environ.get("FOOTFALL_SCREENSHOTS") == "1"
         else Path(tempfile.gettempdir()) / "footfall-screenshots")  # fmt: skip
OWNER, PASSWORD = "owner@example.com", "correct horse battery"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
NOW = datetime.now(UTC).replace(microsecond=0)


def ev(who: str, days_ago: int, minute: int, path: str, name: str = "pageview", **kw: Any
       ) -> dict[str, Any]:  # fmt: skip
    at = NOW - timedelta(days=days_ago, hours=2) + timedelta(minutes=minute)
    return {"event_type": name, "path": path, "visitor_id": who, "timestamp": at.isoformat(),
            "user_agent": UA, "ip": "81.2.69.142", **kw}  # fmt: skip


def dataset() -> list[dict[str, Any]]:
    """Twelve persistent visitors over three weeks: each visits /, then /pricing, some
    then /signup (and sign up); a third come back a week later."""
    out: list[dict[str, Any]] = []
    for i in range(12):
        who, day = f"p{i}", 20 - (i % 3)
        out += [ev(who, day, 0, "/"), ev(who, day, 1, "/pricing")]
        if i % 2 == 0:
            out += [ev(who, day, 2, "/signup"), ev(who, day, 3, "/signup", "Signup", revenue=10)]
        if i % 3 == 0:
            out += [ev(who, day - 7, 0, "/blog"), ev(who, day - 7, 1, "/pricing")]
    return out


class Ctx:
    server: Server
    site_id = ""
    errors: list[str] = []


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    tmp = tmp_path_factory.mktemp("product")
    server = Server(tmp / "data", FOOTFALL_ALLOW_HEADLESS="1").start()
    cli = [sys.executable, "-m", "footfall.cli", "users", "create", "--email", OWNER, "--owner"]
    done = subprocess.run(
        cli, env=server.env, input=PASSWORD + "\n", capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    c = Ctx()
    c.server, c.errors = server, []
    status, site = server.admin_post(
        "/api/site/create", {"name": "Shop", "domains": ["shop.example"]}
    )
    assert status == 201, site
    c.site_id = site["site_id"]
    status, body = server.post("/api/events", {"events": dataset()}, {"x-api-key": site["api_key"]})
    assert status == 202 and body["rejected"] == [], body
    ids: dict[str, int] = {}
    for goal in ({"name": "Signed up with a rather long goal name", "kind": "event",
                  "target": "Signup"},
                 {"name": "Pricing", "kind": "page", "target": "/pricing"}):  # fmt: skip
        status, body = server.admin_post(f"/api/v1/sites/{c.site_id}/goals", goal)
        assert status == 201, body
        ids[goal["name"]] = body["data"]["id"]
    steps = [ids["Pricing"], ids["Signed up with a rather long goal name"]]
    funnel = {"name": "Pricing to signup", "steps": steps, "window_hours": 24}
    status, body = server.admin_post(f"/api/v1/sites/{c.site_id}/funnels", funnel)
    assert status == 201, body
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield c
    finally:
        server.stop()


def get(c: Ctx, path: str, **params: Any) -> Any:
    query = urllib.parse.urlencode({"site_id": c.site_id, "period": "30d", **params})
    return c.server.get(f"{path}?{query}", c.server.admin)["data"]


def owner_page(c: Ctx, browser: Any) -> Any:
    page = logged_in(browser, c.server, OWNER, PASSWORD, c.errors)
    page.goto(c.server.url(f"/sites/{c.site_id}?period=30d"))
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=20000)
    return page


def test_goals_table_rates_every_goal_and_lines_up(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    body = {"site_id": ctx.site_id, "date_range": "30d", "dimensions": ["event:goal"],
            "metrics": ["visitors", "conversion_rate"]}  # fmt: skip
    status, data = ctx.server.admin_post("/api/v2/query", body)
    assert status == 200, data
    want = {r["dimensions"][0]: r["metrics"] for r in data["results"]}
    assert want == {"Pricing": [12, 100.0], "Signed up with a rather long goal name": [6, 50.0]}
    row = page.inner_text("#list-goals li.goal[data-goal=Pricing]").split()
    assert row[:3] == ["Pricing", "12", "100%"]  # a page goal has its conversion rate
    # Every column's right edge is the same in every row, heading included.
    edges = page.evaluate("""() => [...document.querySelectorAll('#list-goals li')].map(
        li => [...li.querySelectorAll('.num')].map(n => Math.round(n.getBoundingClientRect().right)))""")
    assert len(edges) == 3 and len(edges[0]) == 4 and all(e == edges[0] for e in edges), edges
    page.locator("#panel-events").screenshot(path=str(SHOTS / "goals.png"))
    assert ctx.errors == []
    page.context.close()


def test_retention_triangle_matches_the_api(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    data = get(ctx, "/api/v1/retention", interval="week")
    assert data["eligible_visitors"] == 12
    assert page.inner_text("#retention-note").startswith("12 visitors with a lasting identity")
    loyalty = get(ctx, "/api/v1/returning")
    assert (loyalty["new_visitors"], loyalty["returning_visitors"]) == (12, 0)  # all in range
    assert page.inner_text("#returning").startswith("12 new and 0 returning visitors (0% ")
    assert f"{loyalty['visits_per_visitor']:g} visits per visitor" in page.inner_text("#returning")
    shown = page.evaluate("""() => [...document.querySelectorAll('#retention-table tbody tr')].map(
        tr => [...tr.querySelectorAll('td.cell')].map(td => td.title))""")
    assert shown == [[f"{n} of {c['visitors']}" for n in c["returning"]] for c in data["cohorts"]]
    first = next(c for c in data["cohorts"] if c["visitors"])
    cells = page.locator(f"#retention-table tr[data-cohort='{first['cohort']}'] td.cell")
    assert cells.first.inner_text() == "100%"
    page.locator("#panel-retention").screenshot(path=str(SHOTS / "retention.png"))
    page.select_option("#retention-interval", "day")
    page.wait_for_function("document.querySelector('#retention-table th.num:nth-child(3)')"
                           ".textContent === 'Day 0'")  # fmt: skip
    assert ctx.errors == []
    page.context.close()


def test_path_explorer_follows_clicks(ctx: Ctx, browser: Any) -> None:
    page = owner_page(ctx, browser)
    page.select_option("#paths-pick", "/pricing")
    page.wait_for_function(
        "document.querySelector('#paths-page strong').textContent === '/pricing'"
    )
    page.wait_for_selector("#panel-paths #paths-body:not([aria-busy])")
    prev = get(ctx, "/api/v1/paths", page="/pricing", direction="previous")
    came = page.locator("#paths-previous li[data-page]").all_inner_texts()
    assert [" ".join(t.split()) for t in came] == [
        f"{r['page']} {r['visitors']}" for r in prev["results"]]  # fmt: skip
    assert [r["page"] for r in prev["results"]] == ["/", "/blog"]
    nxt = get(ctx, "/api/v1/paths", page="/pricing")
    assert nxt["results"] == [{"page": "/signup", "visitors": 6, "transitions": 6}]
    assert nxt["exits"] == 10  # six visits stopped on /pricing, and the four returns
    page.click("#paths-next button[data-page='/signup']")
    page.wait_for_function("document.querySelector('#paths-page strong').textContent === '/signup'")
    assert page.input_value("#paths-pick") == "/signup"
    page.select_option("#paths-pick", "/")
    page.wait_for_function("document.querySelector('#paths-page strong').textContent === '/'")
    page.wait_for_selector("#panel-paths #paths-body:not([aria-busy])")
    tree = get(ctx, "/api/v1/paths/tree", page="/")["tree"]
    assert (tree["visits"], [k["page"] for k in tree["children"]]) == (12, ["/pricing"])
    shown = page.inner_text("#paths-tree")
    assert "/pricing 12 visits, 6 left" in " ".join(shown.split())
    page.locator("#panel-paths").screenshot(path=str(SHOTS / "paths.png"))
    assert ctx.errors == [], json.dumps(ctx.errors)
    page.context.close()


def test_funnel_panel_shows_median_comparison_window_and_breakdown(ctx: Ctx, browser: Any) -> None:
    # dataset(): all twelve saw /pricing a minute after /, the even six signed up two
    # minutes after /pricing; the previous 30 days are empty.
    page = owner_page(ctx, browser)
    page.goto(ctx.server.url(f"/sites/{ctx.site_id}?period=30d&compare=1"))
    page.wait_for_selector("#dashboard[aria-busy=false]", timeout=20000)
    rows = [" ".join(li.split()) for li in page.locator("#list-funnel li.step").all_inner_texts()]
    assert rows == ["1. Pricing 12 100% – – 0", "2. Signed up with a rather long goal name 6 50% "
                    "6 (50%) 2m 0s 0"], rows  # fmt: skip
    summary = page.inner_text("#funnel-summary")
    assert summary.endswith("within 24 hours of step 1, by the same visitor."), summary
    assert page.inner_text("#funnel-compare").endswith(": 0 entered.")
    assert page.locator("#funnel-breakdown").count() == 0
    page.select_option("#funnel-by", "visit:device")
    page.wait_for_selector("#funnel-breakdown")
    assert "fb=visit%3Adevice" in page.url or "fb=visit:device" in page.url
    cells = page.evaluate("""() => [...document.querySelectorAll('#funnel-breakdown tbody tr')].map(
        tr => [...tr.children].map(c => c.textContent))""")
    assert cells == [["Desktop", "12", "6", "50%"]], cells
    page.locator("#panel-funnels").screenshot(path=str(SHOTS / "funnel-breakdown.png"))
    page.reload()  # the breakdown is part of the view's URL
    page.wait_for_selector("#funnel-breakdown")
    assert page.input_value("#funnel-by") == "visit:device"
    assert ctx.errors == [], json.dumps(ctx.errors)
    page.context.close()
