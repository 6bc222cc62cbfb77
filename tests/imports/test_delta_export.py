"""``footfall export SITE --to DIR --format delta``: the events a test sends come back from
the Delta table, read with the ``deltalake`` package, one partition per UTC day."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DAY = (datetime.now(UTC) - timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
# (ip, user agent, minutes after DAY 09:00, path, event name)
SENT = [
    ("198.51.100.1", FIREFOX, 0, "/", "pageview"),
    ("198.51.100.1", FIREFOX, 4, "/pricing", "pageview"),
    ("198.51.100.1", FIREFOX, 5, "/pricing", "signup"),
    ("198.51.100.2", SAFARI, 30, "/blog/a", "pageview"),
    ("198.51.100.2", SAFARI, 24 * 60 + 10, "/", "pageview"),  # the next day
]


def test_delta_table_holds_the_sent_events_by_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    deltalake = pytest.importorskip("deltalake", reason="the delta extra is not installed")
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        site = client.post(
            "/api/site/create", json={"name": "Shop", "domains": ["shop.example"]}, headers=AUTH
        ).json()
        events = [
            {
                "event_type": name,
                "path": path,
                "ip": ip,
                "user_agent": ua,
                "timestamp": (DAY + timedelta(minutes=m)).isoformat(),
            }
            for ip, ua, m, path, name in SENT
        ]
        r = client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202, r.text
        assert client.app.state.services.writer.wait_idle(15)  # type: ignore[attr-defined]

    out = tmp_path / "delta"
    monkeypatch.setenv("FOOTFALL_STORE_URL", "")
    code = main(["export", "shop", "--to", str(out), "--format", "delta",
                 "--data-dir", str(settings.data_dir)])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert json.loads(printed.out.strip().splitlines()[-1])["events"] == len(SENT)

    table = deltalake.DeltaTable(str(out))
    assert table.metadata().partition_columns == ["day"]
    rows = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["ts"])
    sent = sorted(SENT, key=lambda e: e[2])
    assert [(r["ts"], r["pathname"], r["name"]) for r in rows] == [
        (DAY + timedelta(minutes=m), path, name) for _, _, m, path, name in sent
    ]
    first, second = DAY.date().isoformat(), (DAY + timedelta(days=1)).date().isoformat()
    assert Counter(r["day"] for r in rows) == {first: 4, second: 1}
    # One visitor per IP, browser and day (the daily salt), exact in DECIMAL(20, 0).
    groups = Counter(zip((r["visitor_id"] for r in rows), (r["day"] for r in rows), strict=True))
    want = Counter((ip, ua, (DAY + timedelta(minutes=m)).date()) for ip, ua, m, *_ in sent)
    assert sorted(groups.values()) == sorted(want.values())
    assert all(isinstance(r["visitor_id"], Decimal) and 0 < r["visitor_id"] < 2**64 for r in rows)
    # A day's partition is read alone: what a data platform's filter does.
    one = table.to_pyarrow_table(filters=[("day", "=", second)])
    assert one.column("pathname").to_pylist() == ["/"]


def test_delta_export_refuses_a_non_empty_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    settings = make_settings(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    monkeypatch.setenv("FOOTFALL_STORE_URL", "")
    code = main(["export", "shop", "--to", str(tmp_path / "full"), "--format", "delta",
                 "--data-dir", str(settings.data_dir)])  # fmt: skip
    assert code == 2 and "not an empty directory" in capsys.readouterr().err
