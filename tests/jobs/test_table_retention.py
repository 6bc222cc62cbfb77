"""Retention per table: a site keeps its visits and its rollups for times of their own
(``footfall privacy retention``), beside its raw events' retention, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from footfall.meta.rights import RightsPrefs
from tests.conftest import ADMIN, make_settings
from tests.jobs.test_site_retention import _fill

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def test_visits_and_rollups_keep_their_own_time(tmp_path: Path, store_url: str) -> None:
    app = create_app(make_settings(tmp_path, store_url=store_url, retention_days=10))
    with TestClient(app) as client:
        svc = app.state.services
        site, other = _fill(client, "kept"), _fill(client, "plain")
        svc.writer.wait_idle()
        if svc.store.capabilities.rollups:
            assert client.post("/api/admin/jobs/rollups", headers=AUTH).status_code == 200
        RightsPrefs(svc.meta).set_retention(site, sessions_days=25, rollups_days=15)
        r = client.post("/api/admin/jobs/retention", headers=AUTH)
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        # Raw events older than 10 days go on both sites (ages 11, 20, 29).
        assert result["sites"] == {site: 3, other: 3}
        # Visits: the site keeps 25 days of them (only the 29-day-old one goes); the
        # other site's go with their raw events.
        assert result["sessions"] == {site: 1}
        visits = dict(svc.store.query("SELECT site_id, count(*) FROM sessions GROUP BY site_id"))
        assert visits == {site: 5, other: 3}
        if svc.store.capabilities.rollups:
            # Day sums older than 15 days go (the 20- and 29-day-old days, each in
            # ``daily`` per kind and in ``visit_daily``); the other site's stay.
            cutoff = (datetime.now(UTC) - timedelta(days=15)).date()
            old = "SELECT count(*) FROM daily WHERE site_id = ? AND day < ?"
            assert svc.store.query(old, [site, cutoff]) == [(0,)]
            assert svc.store.query(old, [other, cutoff])[0][0] > 0
            assert result["rollup_rows"][site] > 0


def test_cli_sets_a_sites_table_retention(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    assert (
        main(["sites", "create", "Shop", "--domain", "shop.example", "--data-dir", str(data)]) == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "privacy",
                "retention",
                "--site",
                "shop",
                "--sessions-days",
                "90",
                "--data-dir",
                str(data),
            ]
        )
        == 0
    )
    assert '"sessions_days": 90' in capsys.readouterr().out
    assert (
        main(
            [
                "privacy",
                "retention",
                "--site",
                "shop",
                "--rollups-days",
                "0",
                "--data-dir",
                str(data),
            ]
        )
        == 2
    )
    assert "rollups_days" in capsys.readouterr().err
    assert (
        main(
            [
                "privacy",
                "retention",
                "--site",
                "nope",
                "--rollups-days",
                "9",
                "--data-dir",
                str(data),
            ]
        )
        == 2
    )
