"""``footfall export`` from the DuckDB store, ``footfall import footfall`` into the ClickHouse
store (chdb): every report of the site answers the same on both, a second import adds
nothing, and the export is a day-partitioned Parquet dataset DuckDB reads as it is."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from footfall.config import Settings
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import Metadata
from tests.conftest import ADMIN, _chdb_available, make_settings, make_shop, require_services

AUTH = {"Authorization": f"Bearer {ADMIN}"}
UAS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
]
# Queries whose answers must be equal on both installations.
QUERIES: list[dict[str, Any]] = [
    {
        "metrics": [
            "visitors",
            "visits",
            "pageviews",
            "events",
            "bounce_rate",
            "visit_duration",
            "views_per_visit",
        ]
    },
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:exit_page"]},
    {"metrics": ["visitors"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors"], "dimensions": ["visit:utm_campaign"]},
    {"metrics": ["visitors"], "dimensions": ["visit:browser"]},
    {"metrics": ["visitors"], "dimensions": ["visit:device"]},
    {"metrics": ["visitors", "events"], "dimensions": ["event:name"]},
    {"metrics": ["visitors", "events"], "dimensions": ["event:props:plan"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]},
    {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]},
]
REPORTS = ["summary", "pages", "sources", "devices", "countries", "events"]


def traffic() -> list[dict[str, Any]]:
    rnd = random.Random(3)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)
    out = []
    for v in range(40):
        t = base + timedelta(hours=rnd.randrange(96))
        ua = rnd.choice(UAS)
        ref = rnd.choice(["", "https://www.google.com/", "https://news.ycombinator.com/x"])
        for _ in range(rnd.randrange(1, 5)):
            t += timedelta(minutes=rnd.choice([2, 10, 45]))  # 45: a new visit
            path = rnd.choice(["/", "/pricing", "/blog/a"])
            query = "?utm_campaign=spring" if rnd.random() < 0.2 else ""
            out.append(
                {
                    "event_type": "pageview",
                    "path": path + query,
                    "user_agent": ua,
                    "ip": f"198.51.100.{v}",
                    "referrer": ref,
                    "timestamp": t.isoformat(),
                    "url": f"https://shop.example{path}{query}",
                }
            )
            if rnd.random() < 0.3:
                out.append(
                    {
                        "event_type": "signup",
                        "path": path,
                        "user_agent": ua,
                        "ip": f"198.51.100.{v}",
                        "metadata": {"plan": rnd.choice(["pro", "free"])},
                        "revenue": 9.5,
                        "timestamp": (t + timedelta(seconds=30)).isoformat(),
                    }
                )
    return out


def answers(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with TestClient(create_app(settings)) as client:
        for i, q in enumerate(QUERIES):
            r = client.post(
                "/api/v2/query", json={"site_id": "shop", "date_range": "30d", **q}, headers=AUTH
            )
            assert r.status_code == 200, r.text
            out[f"q{i}"] = r.json()["results"]
        for name in REPORTS:
            r = client.get(
                f"/api/v1/{name}", params={"site_id": "shop", "period": "30d"}, headers=AUTH
            )
            assert r.status_code == 200, r.text
            out[name] = r.json()["data"]
    return out


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str) -> Any:
    monkeypatch.setenv("FOOTFALL_STORE_URL", settings.store_url)
    code = main([*args, "--data-dir", str(settings.data_dir)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out.strip().splitlines()[-1])


def test_export_from_duckdb_imports_into_chdb_with_equal_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    if not _chdb_available():
        if require_services():
            pytest.fail("chdb/clickhouse-connect not installed")
        pytest.skip("chdb not installed: the ClickHouse side of the round trip is not tested")
    src = make_settings(tmp_path / "a")
    with TestClient(create_app(src)) as client:
        site = client.post(
            "/api/site/create", json={"name": "Shop", "domains": ["shop.example"]}, headers=AUTH
        ).json()
        events = traffic()
        r = client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202 and r.json()["accepted"] == len(events), r.text
        assert client.app.state.services.writer.wait_idle(15)  # type: ignore[attr-defined]
    meta = Metadata(src.metadata_url)
    prefs = SitePrefs(meta)
    signup = prefs.create_goal("shop", "Signup", "event", "signup")
    home = prefs.create_goal("shop", "Home", "page", "/")
    prefs.create_funnel("shop", "Same visit", [home.id, signup.id], window_hours=0)
    meta.close()
    before = answers(src)
    assert before["q0"][0]["metrics"][2] == sum(e["event_type"] == "pageview" for e in events)

    out = tmp_path / "export"
    exported = cli(src, monkeypatch, capsys, "export", "shop", "--to", str(out))
    assert exported["events"] == len(events)
    # A Hive-partitioned dataset: DuckDB reads it with its day column.
    days = duckdb.sql(
        f"SELECT count(DISTINCT day), count(*) FROM read_parquet('{out}/events/*/*.parquet', "
        "hive_partitioning = true)"
    ).fetchall()[0]
    assert days[1] == len(events) and days[0] == len(list((out / "events").iterdir()))

    dst = make_settings(tmp_path / "b", store_url="chdb://")
    make_shop(dst)
    first = cli(dst, monkeypatch, capsys, "import", "footfall", str(out), "--site", "shop")
    assert first["events"] == len(events) and first["events_already_there"] == 0
    assert answers(dst) == before
    meta = Metadata(dst.metadata_url)
    funnels = SitePrefs(meta).funnels("shop")
    meta.close()
    assert [(f.name, f.window_hours) for f in funnels] == [("Same visit", 0)]  # window kept
    again = cli(dst, monkeypatch, capsys, "import", "footfall", str(out), "--site", "shop")
    assert again["events"] == 0 and again["events_already_there"] == len(events)
    assert answers(dst) == before


def test_export_refuses_a_non_empty_directory_and_unknown_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    settings = make_settings(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    monkeypatch.setenv("FOOTFALL_STORE_URL", "")
    assert (
        main(
            ["export", "nope", "--to", str(tmp_path / "full"), "--data-dir", str(settings.data_dir)]
        )
        == 2
    )
    assert "not an empty directory" in capsys.readouterr().err
    assert (
        main(
            ["export", "nope", "--to", str(tmp_path / "new"), "--data-dir", str(settings.data_dir)]
        )
        == 2
    )
    assert "no site 'nope'" in capsys.readouterr().err
    assert (
        main(
            [
                "import",
                "footfall",
                str(tmp_path / "full"),
                "--site",
                "x",
                "--data-dir",
                str(settings.data_dir),
            ]
        )
        == 2
    )
    assert "no manifest.json" in capsys.readouterr().err
