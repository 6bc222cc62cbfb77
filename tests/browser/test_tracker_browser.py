"""footfall.js in headless Chromium against the real server: pageviews (load and SPA, no
double count), custom events with props, the queue stub, outbound clicks (ext build), the
offline queue, retry timing, session expiry, and no error ever reaching the page.

Only Chromium can be driven on this machine; other browsers are covered by the ES2017
syntax check of the build (tests/test_tracker_build.py), not by running them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import Stack
from tests.serverproc import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_pageviews_on_load_and_spa_navigation(stack: Stack, page: Any) -> None:
    page.goto(stack.write_page("spa.html"))
    page.wait_for_function("!!(window.footfall && window.footfall.track)")
    page.evaluate("""() => {
        history.pushState({}, '', '/a');
        history.pushState({}, '', '/a');      // same URL: not counted again
        history.replaceState({}, '', '/a');   // same URL: not counted again
        history.pushState({}, '', '/b');
    }""")
    page.go_back()  # popstate back to /a
    page.wait_for_function("location.pathname === '/a'")
    page.evaluate("footfall.flush()")
    data = stack.wait_stats(lambda d: d["pageviews"] >= 4)
    assert data["pageviews"] == 4
    assert {p["path"]: p["views"] for p in data["top_paths"]} == {"/spa.html": 1, "/a": 2, "/b": 1}
    assert data["visits"] == 1
    assert stack.errors == []


def test_custom_events_props_and_queue_stub(stack: Stack, page: Any) -> None:
    stub = (
        "<script>(window.footfall = window.footfall || {q: []}).q.push("
        "['track', 'Early', {from: 'stub'}]);</script>"
    )
    page.goto(stack.write_page("events.html", head=stub))
    page.wait_for_function("typeof window.footfall === 'function'")
    page.evaluate("""() => {
        footfall.identify('user-42', {tier: 'gold'});
        footfall.track('Signup', {plan: 'pro', seats: 3}, {beta: true});
        footfall('track', 'Called');
        footfall.q.push(['track', 'Pushed']);
        footfall.flush();
    }""")
    page.wait_for_function("!JSON.parse(localStorage.footfall_q || '[]').length")
    rows = stack.stored_events()
    names = [r[0] for r in rows]
    assert sorted(names) == ["Called", "Early", "Pushed", "Signup", "pageview"]
    props = {r[0]: dict(r[2]) for r in rows}
    assert props["Early"] == {"from": "stub"}
    assert props["Signup"] == {
        "plan": "pro",
        "seats": "3",
        "user.tier": "gold",
        "user.beta": "true",
    }
    assert len({r[3] for r in rows}) == 1  # one session
    assert stack.errors == []


def test_outbound_downloads_forms_and_engagement_ext(stack: Stack, page: Any) -> None:
    body = (
        '<a id="out" href="https://elsewhere.example/x">out</a>'
        '<a id="dl" href="/files/report.pdf">pdf</a>'
        '<form id="signup" onsubmit="return false"><button id="go">go</button></form>'
        '<div style="height:3000px"></div>'
        '<script>document.addEventListener("click", e => e.target.closest("a") && e.preventDefault());</script>'
    )
    url = stack.write_page(
        "ext.html",
        'data-outbound="true" data-downloads="true" data-forms="true" '
        'data-engagement="true" data-load-time="true" data-404="true"',
        body=body,
        build="footfall.ext.js",
    )
    page.goto(url)
    page.wait_for_function("!!(window.footfall && window.footfall.track)")
    page.click("#out")
    page.click("#dl")
    page.click("#go")
    page.mouse.wheel(0, 1200)
    page.wait_for_timeout(300)
    page.evaluate("history.pushState({}, '', '/next')")  # leaves ext.html: engagement sent
    page.evaluate("footfall.flush()")
    page.wait_for_function("!JSON.parse(localStorage.footfall_q || '[]').length")
    rows = stack.stored_events()
    by_name: dict[str, list[Any]] = {}
    for r in rows:
        by_name.setdefault(r[0], []).append(r)
    assert dict(by_name["Outbound Link: Click"][0][2]) == {"url": "https://elsewhere.example/x"}
    assert dict(by_name["File Download"][0][2])["url"].endswith("/files/report.pdf")
    assert dict(by_name["Form: Submission"][0][2]) == {"form": "signup"}
    assert dict(by_name["404"][0][2]) == {"path": "/ext.html"}
    first_pv = by_name["pageview"][0]
    assert first_pv[1] == "/ext.html" and first_pv[6] is not None and first_pv[6] > 0
    (eng,) = by_name["engagement"]
    assert eng[1] == "/ext.html" and eng[7] is False and eng[4] > 0 and eng[5] > 0
    assert stack.errors == []


def test_offline_queue_survives_a_dead_server_and_a_reload(stack: Stack, page: Any) -> None:
    url = stack.write_page("offline.html", 'data-retries="0"')
    page.goto(url)
    page.wait_for_function("!!(window.footfall && window.footfall.track)")
    page.evaluate("footfall.flush()")
    assert stack.wait_stats(lambda d: d["pageviews"] == 1)["pageviews"] == 1
    assert stack.server.stop() == 0
    page.evaluate(
        "() => { for (const n of [1, 2, 3]) footfall.track('Offline', {n}); footfall.flush(); }"
    )
    page.wait_for_timeout(500)
    queued = page.evaluate("JSON.parse(localStorage.footfall_q).length")
    assert queued == 3
    stack.server.start()  # same data directory and port
    page.reload()  # pagehide beacons the queue, the new page sends it again: stored once
    page.wait_for_function("!!(window.footfall && window.footfall.track)")
    page.evaluate("footfall.flush()")
    page.wait_for_function(
        "!localStorage.footfall_q || JSON.parse(localStorage.footfall_q).length === 0",
        timeout=10_000,
    )
    time.sleep(0.5)
    rows = stack.stored_events()
    assert sorted(dict(r[2])["n"] for r in rows if r[0] == "Offline") == ["1", "2", "3"]
    assert [r[0] for r in rows].count("pageview") == 2
    assert stack.errors == []


def test_retry_backoff_timing_and_online_flush(stack: Stack, page: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    url = stack.write_page("retry.html", api=dead)
    times: list[float] = []
    page.on("request", lambda r: r.url.endswith("/api/events") and times.append(time.monotonic()))
    page.goto(url)
    page.wait_for_function("!!(window.footfall && window.footfall.track)")
    page.wait_for_timeout(300)  # the pageview's own send on load has failed by now
    times.clear()
    page.evaluate("footfall.track('Retry'); footfall.flush()")
    page.wait_for_timeout(8_500)  # attempts at 0, 1, 3, 7 s, then it waits
    assert len(times) == 4, times
    gaps = [round(b - a, 1) for a, b in zip(times, times[1:])]
    for gap, want in zip(gaps, (1, 2, 4)):
        assert want - 0.3 <= gap <= want + 0.7, gaps
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(300)
    assert len(times) == 5
    assert page.evaluate("JSON.parse(localStorage.footfall_q).length") == 2
    assert stack.errors == []


def test_a_failing_server_never_raises_in_the_page(stack: Stack, page: Any) -> None:
    broken = f"http://127.0.0.1:{stack.page_port}/fail"  # answers 500 without CORS headers
    url = stack.write_page("fail.html", 'data-retries="1"', api=broken)
    page.goto(url)
    page.wait_for_function("!!(window.footfall && window.footfall.track)")
    page.evaluate("""() => {
        footfall.track('x', {a: 1});
        footfall.track(null); footfall.identify(); footfall.trackOutbound();
        footfall('nope'); footfall.q.push(null);
        localStorage.footfall_q = '{not json';
        footfall.track('y'); footfall.flush();
    }""")
    page.wait_for_timeout(1_500)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    assert stack.errors == []


def test_session_changes_after_30_minutes_of_inactivity(stack: Stack, page: Any) -> None:
    page.goto(stack.write_page("session.html"))
    page.wait_for_function("!!(window.footfall && window.footfall.track)")
    first = page.evaluate("JSON.parse(localStorage.footfall_s).id")
    page.evaluate("footfall.track('Active')")
    assert page.evaluate("JSON.parse(localStorage.footfall_s).id") == first
    # 31 minutes without activity: move the stored last-activity time back.
    page.evaluate("""() => { const s = JSON.parse(localStorage.footfall_s);
        s.t -= 31 * 60 * 1000; localStorage.footfall_s = JSON.stringify(s); }""")
    page.evaluate("footfall.track('Later'); footfall.flush()")
    second = page.evaluate("JSON.parse(localStorage.footfall_s).id")
    assert second != first
    data = stack.wait_stats(lambda d: d["visits"] >= 2)
    assert data["visits"] == 2 and data["pageviews"] == 1
    assert stack.errors == []
