"""The all-sites page (Plausible's sites list): each site's visitors over the range, a
day-by-day sparkline and the change against the previous period of the same length, on
both stores. The visitors are placed on known days; expected figures are literals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.meta.users import Accounts
from footfall.query import overview, rollup
from footfall.query.runner import QueryRunner
from tests.conftest import ADMIN, make_settings
from tests.dashboard.conftest import PASSWORD, login

AUTH = {"Authorization": f"Bearer {ADMIN}"}
# Noon UTC keeps every visit on the UTC day it names whenever the tests run.
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
# Site -> (days ago, visitor) pairs. With "7d" the range is the 7 days ending today and the
# previous period the 7 days before it (8 to 14 days ago).
VISITS = {
    "Alpha": [(1, "a1"), (1, "a2"), (3, "a1"), (3, "a3"), (8, "a4"), (8, "a5")],
    "Beta": [(2, "b1"), (10, "b1"), (10, "b2"), (10, "b3"), (10, "b4")],
    "Gamma": [],
}


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Any]:
    settings = make_settings(Path(tmp_path_factory.mktemp("overview")), store_url=store_url)
    app = create_app(settings)
    with TestClient(app) as client:
        ids = {}
        for name, visits in VISITS.items():
            site = client.post("/api/site/create", json={"name": name, "domains": [
                f"{name.lower()}.example"]}, headers=AUTH).json()  # fmt: skip
            ids[name] = site["site_id"]
            batch = [{"event_type": "pageview", "path": "/", "visitor_id": v,
                      "timestamp": (NOON - timedelta(days=ago)).isoformat()}
                     for ago, v in visits]  # fmt: skip
            if batch:
                r = client.post("/api/events", json={"events": batch},
                                headers={"x-api-key": site["api_key"]})  # fmt: skip
                assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)
        accounts = Accounts(app.state.services.meta)
        accounts.create_user("owner@example.com", PASSWORD, owner=True)
        viewer = accounts.create_user("viewer@example.com", PASSWORD)
        accounts.grant(viewer.id, ids["Beta"], "viewer")
        yield app, client, ids


def rows(html: str) -> dict[str, tuple[str, str]]:
    """Site id -> (visitors, change) as the sites page shows them."""
    found = re.findall(
        r'data-site-id="([^"]+)">.*?class="visitors">(\d+)</strong>.*?class="change[^"]*"[^>]*>([^<]*)<',
        html, re.S,
    )  # fmt: skip
    return {sid: (visitors, change.strip()) for sid, visitors, change in found}


def test_each_site_shows_its_visitors_and_change(app_client: Any) -> None:
    _, client, ids = app_client
    assert login(client, "owner@example.com").status_code == 303
    page = client.get("/?period=7d")
    assert page.status_code == 200, page.text
    assert rows(page.text) == {
        ids["Alpha"]: ("3", "↑ 50.0%"),  # a1 a2 a3 against a4 a5
        ids["Beta"]: ("1", "↓ 75.0%"),  # b1 against b1..b4
        ids["Gamma"]: ("0", "–"),  # nothing before: no change to show
    }
    assert page.text.count("<polyline") == 3


def test_the_sparkline_is_visitors_by_day(app_client: Any) -> None:
    app, _, ids = app_client
    svc = app.state.services
    alpha = next(s for s in svc.meta.list_sites() if s.id == ids["Alpha"])
    t = overview.trend(svc.runner, alpha, "7d")
    today = NOON.date()
    assert t.days == tuple(str(today - timedelta(days=6 - i)) for i in range(7))
    assert t.series == (0, 0, 0, 2, 0, 2, 0)  # 3 days ago: a1 a3; yesterday: a1 a2
    assert (t.visitors, t.previous, t.change) == (3, 2, 50.0)


class CountingStore:
    """The app's store, counting the statements sent to it through ``query``."""

    def __init__(self, store: Any) -> None:
        self.store, self.capabilities = store, store.capabilities
        self.statements, self.snapshots = 0, 0
        self.params: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        self.statements += 1
        self.params += list(params)
        return list(self.store.query(sql, params))

    def snapshot(self) -> Any:  # the rollups' reads
        self.snapshots += 1
        return self.store.snapshot()


def test_all_sites_in_three_time_zones_take_one_statement(app_client: Any) -> None:
    """Each zone has its own period and local days. Asked at noon UTC, the visits (at noon
    UTC) fall on the same days back from each zone's own today: in Kiritimati (+14) both
    sit on the next local day, in Pago Pago (-11) both on the same one. Asked at the real
    time instead, the days back differ by one in a zone whose date is not UTC's."""
    app, _, ids = app_client
    zones = {ids["Alpha"]: "Pacific/Kiritimati", ids["Beta"]: "Pacific/Pago_Pago",
             ids["Gamma"]: "UTC"}  # fmt: skip
    sites = [replace(s, timezone=zones[s.id]) for s in app.state.services.meta.list_sites()]
    store = CountingStore(app.state.services.store)
    got = overview.trends(QueryRunner(store), sites, "7d", NOON)  # type: ignore[arg-type]
    assert store.statements == 1
    totals = {sid: (t.visitors, t.previous, t.change) for sid, t in got.items()}
    assert totals == {ids["Alpha"]: (3, 2, 50.0), ids["Beta"]: (1, 4, -75.0),
                      ids["Gamma"]: (0, 0, None)}  # fmt: skip
    alpha = got[ids["Alpha"]]
    today = NOON.astimezone(ZoneInfo(zones[ids["Alpha"]])).date()
    assert alpha.days == tuple(str(today - timedelta(days=6 - i)) for i in range(7))
    assert alpha.series == (0, 0, 0, 2, 0, 2, 0)
    assert got[ids["Beta"]].series == (0, 0, 0, 0, 1, 0, 0)  # b1, 2 days back


def test_a_viewer_sees_only_the_sites_they_may_open(app_client: Any) -> None:
    _, client, ids = app_client
    client.cookies.clear()
    assert login(client, "viewer@example.com").status_code == 303
    assert list(rows(client.get("/?period=7d").text)) == [ids["Beta"]]
    assert client.get("/sites.json").json() == {"sites": [{"id": ids["Beta"], "name": "Beta"}]}


def test_an_unknown_range_is_refused_naming_it(app_client: Any) -> None:
    _, client, _ = app_client
    client.cookies.clear()
    assert login(client, "owner@example.com").status_code == 303
    page = client.get("/?period=forever")
    assert page.status_code == 400 and "period: one of 7d, 30d, 90d" in page.text


def test_a_site_with_rollups_is_read_from_them_the_others_in_one_statement(
    app_client: Any,
) -> None:
    app, _, ids = app_client
    svc = app.state.services
    if not svc.store.capabilities.rollups:
        pytest.skip("this store keeps no per-site rollups: every site is in the statement")
    sites = svc.meta.list_sites()
    svc.store.maintain_rollups({ids["Alpha"]: "UTC"}, rollup.spec())
    store = CountingStore(svc.store)
    got = overview.trends(QueryRunner(store), sites, "7d")  # type: ignore[arg-type]
    assert store.snapshots > 0 and ids["Alpha"] not in store.params  # from its rollups
    assert store.statements == 1 and {ids["Beta"], ids["Gamma"]} <= set(store.params)
    totals = {sid: (t.visitors, t.previous, t.change) for sid, t in got.items()}
    assert totals == {ids["Alpha"]: (3, 2, 50.0), ids["Beta"]: (1, 4, -75.0),
                      ids["Gamma"]: (0, 0, None)}  # fmt: skip
    assert got[ids["Alpha"]].series == (0, 0, 0, 2, 0, 2, 0)
