"""Privacy settings in headless Chromium against a real ``footfall serve``: an admin saves
exclusions, e-mail report recipients and per-table retention through the settings forms
(errors name the field; what is saved is what ``footfall reports`` and ``footfall privacy
retention`` read), and the real tracker sends
nothing at all from a browser that opted out with ``#footfall-ignore`` (watched with
``page.on("request")``), until ``#footfall-unignore``; an excluded page is not counted."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.browser.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OWNER, PASSWORD = "owner@example.com", "correct horse battery"


def test_settings_form_and_ignore_my_visits(stack: Stack, page: Any) -> None:
    cli = [sys.executable, "-m", "footfall.cli", "users", "create", "--email", OWNER, "--owner"]
    done = subprocess.run(cli, env=stack.server.env, input=PASSWORD + "\n", capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page.goto(stack.server.url("/login"))
    page.fill("input[name=email]", OWNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(stack.server.url(f"/sites/{stack.site_id}/settings"))
    page.fill("#excluded_paths", "secret/*")
    page.click("#privacy-form button[type=submit]")
    assert page.inner_text("#settings-error").startswith("excluded_paths:")
    page.fill("#excluded_paths", "/secret-*")
    page.fill("#excluded_ips", "2001:db8::/32")
    page.check("#respect_dnt")
    page.click("#privacy-form button[type=submit]")
    assert "saved" in page.inner_text("#notice")
    assert page.input_value("#excluded_paths") == "/secret-*" and page.is_checked("#respect_dnt")
    assert page.get_attribute("#ignore-links a.btn", "href") == "https://127.0.0.1/#footfall-ignore"
    reports_and_retention(stack, page)

    sent: list[str] = []
    page.on("request", lambda r: "/api/event" in r.url and sent.append(r.url))
    ready = "typeof window.footfall === 'function'"
    for name in ("ignored.html", "again.html"):
        stack.write_page(name)
    page.goto(stack.page_url("ignored.html#footfall-ignore"))
    page.wait_for_function(ready)
    page.evaluate("footfall.track('Clicked'); footfall.flush()")
    assert page.evaluate("localStorage.footfall_ignore") == "true"
    page.goto(stack.page_url("again.html"))  # a later visit, no hash: still ignored
    page.wait_for_function(ready)
    page.evaluate("footfall.flush()")
    page.wait_for_timeout(1500)
    assert sent == []

    # Positive controls: the same browser counts again after #footfall-unignore, and an
    # excluded page's event reaches the server (202) but is not counted.
    stack.write_page("secret-plans.html")
    stack.write_page("counted.html")
    with page.expect_request(lambda r: "/api/events" in r.url):
        page.goto(stack.page_url("secret-plans.html#footfall-unignore"))
    assert page.evaluate("localStorage.footfall_ignore") is None
    with page.expect_response(lambda r: "/api/events" in r.url) as answer:
        page.goto(stack.page_url("counted.html"))
    assert answer.value.status == 202
    data = stack.wait_stats(lambda d: d["pageviews"] >= 1)
    assert [p["path"] for p in data["top_paths"]] == ["/counted.html"]
    assert [r[1] for r in stack.stored_events()] == ["/counted.html"]
    assert stack.errors == []


def reports_and_retention(stack: Stack, page: Any) -> None:
    """The settings page's e-mail reports and retention sections, on the logged-in page."""
    from pathlib import Path

    from footfall.meta.repo import Metadata
    from footfall.meta.rights import RightsPrefs

    def saved() -> tuple[list[tuple[str, str]], tuple[int | None, int | None]]:
        meta = Metadata(f"sqlite:///{Path(stack.server.env['FOOTFALL_DATA_DIR']) / 'meta.sqlite3'}")
        try:
            prefs = RightsPrefs(meta)
            kept = prefs.retention(stack.site_id)
            return ([(r.email, r.kind) for r in prefs.recipients(stack.site_id)],
                    (kept.sessions_days, kept.rollups_days))  # fmt: skip
        finally:
            meta.close()

    page.fill("#recipient_email", "not an address")
    page.click("#recipient-form button[type=submit]")
    assert page.inner_text("#settings-error").startswith("email:")
    page.fill("#recipient_email", "team@example.com")
    page.select_option("#recipient_kind", "monthly")
    page.click("#recipient-form button[type=submit]")
    assert "team@example.com will get the monthly report" in page.inner_text("#notice")
    assert page.inner_text("#recipients li .recipient") == "team@example.com"
    assert page.inner_text("#recipients li .badge") == "monthly"

    page.fill("#sessions_days", "0")
    page.click("#retention-form button[type=submit]")
    assert page.inner_text("#settings-error").startswith("sessions_days:")
    page.fill("#sessions_days", "90")
    page.fill("#rollups_days", "400")
    page.click("#retention-form button[type=submit]")
    assert "Retention saved" in page.inner_text("#notice")
    assert (page.input_value("#sessions_days"), page.input_value("#rollups_days")) == ("90", "400")
    assert saved() == ([("team@example.com", "monthly")], (90, 400))

    page.click("#recipients li button[type=submit]")
    assert "team@example.com unsubscribed" in page.inner_text("#notice")
    assert page.inner_text("#recipients").strip() == "Nobody gets reports of this site."
    page.fill("#rollups_days", "")
    page.click("#retention-form button[type=submit]")
    assert saved() == ([], (90, None))  # empty: rollups kept for ever
