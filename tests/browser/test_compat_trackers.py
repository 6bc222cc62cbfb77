"""The official clients against Footfall: Plausible's npm tracker in Chromium and Umami's
Node client. Both come from tests/compat_js (package.json + lockfile; ``npm ci`` runs when
node_modules is missing; without npm the tests skip, unless FOOTFALL_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Stack
from tests.conftest import require_services

pytestmark = [pytest.mark.browser, pytest.mark.slow]
COMPAT = Path(__file__).resolve().parent.parent / "compat_js"


def compat_modules() -> Path:
    modules = COMPAT / "node_modules"
    if (
        not (modules / "@plausible-analytics" / "tracker").exists()
        or not (modules / "@umami").exists()
    ):
        npm = shutil.which("npm")
        if npm is None:
            if require_services():
                pytest.fail("npm is needed for the compatibility tests")
            pytest.skip("npm is not installed: cannot install the Plausible and Umami clients")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=COMPAT, check=True
        )
    return modules


def test_plausible_npm_tracker_is_counted(stack: Stack, page: Any) -> None:
    tracker = compat_modules() / "@plausible-analytics" / "tracker" / "plausible.js"
    shutil.copy(tracker, stack.pages / "plausible.js")
    endpoint = stack.server.url("/api/event")
    module = f"""<script type="module">
      window.__plausible = true;  // Playwright sets navigator.webdriver, which Plausible skips
      import {{ init, track }} from './plausible.js';
      init({{ domain: '127.0.0.1', endpoint: '{endpoint}', captureOnLocalhost: true,
              outboundLinks: true }});
      window.plausibleTrack = track;
    </script>"""
    (stack.pages / "p.html").write_text(f"<!doctype html><title>P</title>{module}<p>hi</p>")
    page.goto(stack.page_url("p.html"))
    page.wait_for_function("typeof window.plausibleTrack === 'function'")
    page.evaluate("history.pushState({}, '', '/p-next')")
    page.evaluate("plausibleTrack('Signup', {props: {plan: 'pro'}})")
    data = stack.wait_stats(lambda d: d["pageviews"] >= 2)
    assert data["pageviews"] == 2
    assert {p["path"] for p in data["top_paths"]} == {"/p.html", "/p-next"}
    time.sleep(0.3)
    rows = stack.stored_events()
    signup = [r for r in rows if r[0] == "Signup"]
    assert len(signup) == 1 and dict(signup[0][2]) == {"plan": "pro"}
    assert stack.errors == []


def test_umami_node_client_is_counted(stack: Stack) -> None:
    modules = compat_modules()
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    _, site = stack.server.admin_post(
        "/api/site/create", {"name": "U", "domains": ["shop.example"]}
    )
    uuid = [
        line.split("\t")[-1]
        for line in subprocess.run(
            [sys.executable, "-m", "footfall.cli", "sites", "list"],
            env=stack.server.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        if line.startswith(site["site_id"] + "\t")
    ][0]
    script = f"""
      const umami = require({json.dumps(str(modules / "@umami" / "node"))}).default;
      umami.init({{ websiteId: {json.dumps(uuid)}, hostUrl: {json.dumps(stack.server.url(""))} }});
      (async () => {{
        const codes = [];
        codes.push((await umami.track({{ hostname: 'shop.example', url: '/cart', title: 'Cart' }})).status);
        codes.push((await umami.track('Checkout', {{ total: 42 }})).status);
        codes.push((await umami.track({{ hostname: 'shop.example', url: '/done', name: 'Paid',
                                         data: {{ plan: 'pro' }} }})).status);
        console.log(JSON.stringify(codes));
      }})();
    """
    out = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, check=True, timeout=30
    )
    assert json.loads(out.stdout) == [200, 200, 200], out.stderr
    stack.site_id = site["site_id"]
    time.sleep(0.3)
    rows = stack.stored_events()
    assert sorted(r[0] for r in rows) == ["Checkout", "Paid", "pageview"]
    props = {r[0]: dict(r[2]) for r in rows}
    assert props["Checkout"] == {"total": "42"} and props["Paid"] == {"plan": "pro"}
