"""``GET /metrics``: what the collection endpoints counted, and the queue's and the
writer's figures, as a Prometheus scraper reads them (its own text parser)."""

from __future__ import annotations

import math
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from footfall import __version__
from footfall.app import create_app
from tests.conftest import ADMIN, Footfall, make_settings

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def page(path: str, **extra: str) -> dict[str, str]:
    return {"event_type": "pageview", "path": path, "url": f"https://example.com{path}", **extra}


def test_collection_and_writer_figures_count_what_happened(footfall: Footfall) -> None:
    before = scrape(footfall.client)
    for i in range(3):
        assert footfall.send(page(f"/ok{i}")).status_code == 202
    assert footfall.send({"event_type": "pageview"}).status_code == 400  # no path
    # A page of another site: accepted, then dropped by the hostname check.
    assert footfall.send({**page("/x"), "url": "https://elsewhere.org/x"}).status_code == 202
    # A crawler (server-side fields): accepted, then dropped by the writer's bot filter.
    assert footfall.send(page("/bot", user_agent=BOT, ip="198.51.100.9")).status_code == 202
    batch = [page("/b1"), page("/b2"), {"event_type": "pageview", "path": 7}, page("/b3")]
    r = footfall.send_batch(batch)
    assert r.status_code == 202 and [x["index"] for x in r.json()["rejected"]] == [2]
    footfall.flush()
    after = scrape(footfall.client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("footfall_events_received_total", endpoint="event") == 6
    assert delta("footfall_events_received_total", endpoint="events") == 1
    assert delta("footfall_events_accepted_total") == 3 + 1 + 3  # the bot's is durable too
    assert delta("footfall_events_dropped_total", reason="hostname") == 1
    assert delta("footfall_requests_rejected_total", status="400") == 1
    # This server's writer (a fresh one per test): absolute figures.
    assert after[("footfall_writer_events_written_total", ())] == 6
    assert after[("footfall_writer_dropped_total", ())] == 1
    assert after[("footfall_writer_errors_total", ())] == 0
    assert after[("footfall_writer_batches_total", ())] >= 1
    assert after[("footfall_queue_depth_events", ())] == 0
    assert 0 <= after[("footfall_writer_seconds_since_last_batch", ())] < 60
    assert after[("footfall_build_info", (("version", __version__),))] == 1


def test_queue_depth_shows_events_the_writer_has_not_stored_yet(tmp_path: Path) -> None:
    # The writer waits an hour between rounds: what is posted stays in the spool.
    app = create_app(make_settings(tmp_path, flush_interval_ms=3_600_000))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        site = client.post(
            "/api/site/create", json={"name": "Q", "domains": ["q.com"]}, headers=auth
        ).json()
        events = [{"event_type": "pageview", "path": f"/{i}", "user_agent": UA} for i in range(25)]
        r = client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202
        waiting = scrape(client)
        assert waiting[("footfall_queue_depth_events", ())] == 25
        assert waiting[("footfall_queue_bytes", ())] > 25 * 50
        assert waiting[("footfall_writer_events_written_total", ())] == 0
        assert math.isnan(waiting[("footfall_writer_seconds_since_last_batch", ())])
        services = app.state.services
        while services.writer.run_once():
            pass
        done = scrape(client)
        assert done[("footfall_queue_depth_events", ())] == 0
        assert done[("footfall_writer_events_written_total", ())] == 25
        assert done[("footfall_writer_batches_total", ())] == 1
        assert done[("footfall_writer_last_batch_seconds", ())] > 0
