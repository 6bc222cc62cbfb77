"""The first hour in headless Chromium against a real ``footfall serve``: a test page with
the real snippet, opened under a host that is not one of the site's domains, records
nothing; the settings page's "Verify installation" says why and names the host. After the
owner adds that host to the site's domains, the same page is counted."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.browser.conftest import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OWNER, PASSWORD = "owner@example.com", "correct horse battery"


def test_a_test_page_on_another_host_is_explained(stack: Stack, page: Any) -> None:
    cli = [sys.executable, "-m", "footfall.cli", "users", "create", "--email", OWNER, "--owner"]
    done = subprocess.run(cli, env=stack.server.env, input=PASSWORD + "\n", capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # The site's domain is 127.0.0.1; the page is opened as localhost, as people do.
    url = stack.write_page("first.html").replace("127.0.0.1", "localhost")
    with page.expect_response(lambda r: r.url.endswith("/api/events")) as sent:
        page.goto(url)
    assert sent.value.status == 202 and sent.value.json()["dropped"] == 1

    page.goto(stack.server.url("/login"))
    page.fill("input[name=email]", OWNER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    settings = stack.server.url(f"/sites/{stack.site_id}/settings")
    page.goto(settings)
    assert page.inner_text("#verify").strip() == "No events have arrived yet."
    reason = page.inner_text("#verify-drops li[data-reason=hostname]")
    assert reason.startswith("1 hostname: the page's host is not among the site's domains")
    assert "the last was localhost;" in reason

    # Following the advice: add the host under General, reload the test page.
    page.fill("input[name=domains]", "127.0.0.1 localhost")
    page.click("form[action$='/settings/general'] button[type=submit]")
    with page.expect_response(lambda r: r.url.endswith("/api/events")) as sent:
        page.goto(url)
    assert sent.value.status == 202 and "dropped" not in sent.value.json()
    stack.wait_stats(lambda d: d.get("pageviews", 0) >= 1)
    page.goto(settings)
    assert page.inner_text("#verify").strip().startswith("Events are arriving: 1 stored")
    assert stack.errors == []
