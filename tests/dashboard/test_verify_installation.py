"""The settings page's "Verify installation": a first test page that records nothing
says why. Events are sent through the real collection endpoints and dropped for each
reason (foreign page host, bot, referrer spam, Do-Not-Track, excluded IP and path); the
page lists each reason with its count, and ``/metrics`` counts them in one metric."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from footfall.config import Settings
from footfall.ingest.recentdrops import RecentDrops
from footfall.meta.users import UserInfo
from tests.conftest import Footfall, chdb_url, make_settings
from tests.dashboard.conftest import csrf_for, login

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
# A host on the vendored referrer-spam list (footfall/ingest/data/referrer-spam.txt).
SPAM = "https://0n-line.tv/"


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    """Both stores: the writer's drops are read back from each one's dropped_events. A
    chdb database per test: each test's spool is new, and so must its store be."""
    return make_settings(tmp_path, store_url=chdb_url("verify") if store_url else "")


def page(path: str, host: str = "example.com", **extra: Any) -> dict[str, Any]:
    return {"event_type": "pageview", "path": path, "url": f"https://{host}{path}", **extra}


def listed(html: str) -> dict[str, int]:
    """The verify section's ``reason -> events`` list, as the user reads it."""
    section = html.split('id="verify-drops"', 1)[1].split("</div>", 1)[0]
    found = re.findall(r'data-reason="([a-z_]+)"><strong>(\d+)</strong>', section)
    return {reason: int(n) for reason, n in found}


def dropped_metric(client: Any) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        s.labels["reason"]: s.value
        for f in text_string_to_metric_families(text)
        if f.name == "footfall_events_dropped"
        for s in f.samples
        if s.name == "footfall_events_dropped_total"
    }


def test_a_page_that_records_nothing_says_why(footfall: Footfall, owner: UserInfo) -> None:
    login(footfall.client, owner.email)
    url = f"/sites/{footfall.site_id}/settings"
    empty = footfall.client.get(url).text
    assert "No events have arrived yet." in empty
    assert "No events were dropped in the last hour" in empty
    before = dropped_metric(footfall.client)

    # A test page opened from localhost and a staging host: not among the site's domains.
    assert footfall.send(page("/", host="localhost:8000")).json()["message"] == (
        "Event dropped (hostname)")  # fmt: skip
    batch = [page("/a", host="staging.example.org"), page("/b", host="staging.example.org")]
    assert footfall.send_batch(batch).json()["dropped"] == 2
    # Two crawlers and a spam referrer (server-side fields, so past the host check).
    for path in ("/bot1", "/bot2"):
        assert footfall.send(page(path, user_agent=BOT, ip="198.51.100.9")).status_code == 202
    spam = page("/spam", user_agent=UA, ip="198.51.100.10", referrer=SPAM)
    assert footfall.send(spam).status_code == 202
    # The site's own rules: Do-Not-Track, an excluded range, an excluded path.
    form = {"csrf": csrf_for(footfall.client, url), "respect_dnt": "on",
            "excluded_ips": "192.0.2.0/24", "excluded_paths": "/admin/**", "retention_days": ""}  # fmt: skip
    assert footfall.client.post(f"{url}/privacy", data=form).status_code == 200
    headers = {"x-api-key": footfall.api_key, "DNT": "1"}
    assert footfall.client.post("/api/event", json=page("/dnt"), headers=headers).status_code == 202
    assert footfall.send(page("/ip", user_agent=UA, ip="192.0.2.5")).status_code == 202
    assert footfall.send(page("/admin/users")).status_code == 202
    assert footfall.send(page("/kept")).status_code == 202
    footfall.flush()

    html = footfall.client.get(url).text
    assert listed(html) == {"hostname": 3, "bot": 2, "referrer_spam": 1, "dnt": 1,
                            "excluded_ip": 1, "excluded_path": 1}  # fmt: skip
    assert "Events are arriving: 1 stored" in html
    assert "not among the site&#39;s domains" in html
    assert "the last was <code>staging.example.org</code>" in html
    # The same drops in /metrics, in one metric; the writer's two filters as one reason.
    after = dropped_metric(footfall.client)
    delta = {r: after[r] - before.get(r, 0) for r in after if after[r] != before.get(r, 0)}
    assert delta == {"hostname": 3, "dnt": 1, "excluded_ip": 1, "excluded_path": 1,
                     "bot_or_referrer_spam": 3}  # fmt: skip


def test_another_sites_drops_are_not_listed(footfall: Footfall, owner: UserInfo) -> None:
    footfall.services.pipeline.drops.add("some-other-site", "hostname", 5, host="x.org")
    login(footfall.client, owner.email)
    html = footfall.client.get(f"/sites/{footfall.site_id}/settings").text
    assert "No events were dropped in the last hour" in html and "x.org" not in html


def test_recent_drops_cover_the_last_hour_only() -> None:
    now = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()]
    drops = RecentDrops(clock=lambda: now[0])
    drops.add("s", "hostname", 2)
    now[0] += timedelta(minutes=30).total_seconds()
    drops.add("s", "hostname")
    drops.add("s", "dnt", 4)
    assert drops.last_hour("s") == {"hostname": 3, "dnt": 4}
    now[0] += timedelta(minutes=31).total_seconds()  # the first two are 61 minutes old
    assert drops.last_hour("s") == {"hostname": 1, "dnt": 4}
    now[0] += timedelta(hours=2).total_seconds()  # every slot's minute has come round again
    drops.add("s", "dnt")
    assert drops.last_hour("s") == {"dnt": 1}
    assert drops.last_hour("t") == {}
