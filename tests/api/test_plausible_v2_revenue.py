"""Revenue metrics on ``POST /api/v2/query`` as Plausible answers them: money objects in a
revenue goal's currency (``footfall/query/revenue.py``), null for mixed currencies with
Plausible's warning, plain numbers where no goal of the query has a currency.

Expected figures are the fixture's amounts summed by hand, not the product's SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
# (event name, revenue, visitor): Payment in USD, AddToCart in EUR, Signup no currency.
EVENTS = [("Payment", 1329.0, "a"), ("Payment", 1990.0, "b"), ("AddToCart", 10.31, "c"),
          ("AddToCart", 20.0, "d"), ("Signup", 5.0, "e")]  # fmt: skip


@pytest.fixture
def site(tmp_path: Path, store_url: str) -> Iterator[tuple[TestClient, str, str]]:
    app = create_app(make_settings(tmp_path, store_url=store_url))
    with TestClient(app) as client:
        created = client.post("/api/site/create", json={"name": "Shop", "domains": ["shop.example"]},
                              headers=AUTH).json()  # fmt: skip
        sid = created["site_id"]
        for name, currency in (("Payment", "usd"), ("AddToCart", "EUR"), ("Signup", "")):
            r = client.post(f"/api/v1/sites/{sid}/goals", headers=AUTH, json={
                "name": name, "kind": "event", "target": name, "currency": currency})  # fmt: skip
            assert r.status_code == 201, r.text
            assert r.json()["data"]["currency"] == (currency.upper() or None)
        events = [{"event_type": n, "path": "/", "revenue": amount,
                   "visitor_id": v, "timestamp": AT.isoformat()} for n, amount, v in EVENTS]  # fmt: skip
        r = client.post("/api/events", json={"events": events},
                        headers={"x-api-key": created["api_key"]})  # fmt: skip
        assert r.status_code == 202, r.text
        assert app.state.services.writer.wait_idle(15)
        yield client, "shop.example", sid


def _query(client: TestClient, site: str, **body: Any) -> dict[str, Any]:
    body = {"site_id": site, "metrics": ["total_revenue", "average_revenue"],
            "date_range": "7d", **body}  # fmt: skip
    r = client.post("/api/v2/query", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def usd(value: float, short: str, long: str) -> dict[str, Any]:
    return {"value": value, "currency": "USD", "short": short, "long": long}


def test_a_revenue_goal_filter_answers_money_in_its_currency(
    site: tuple[TestClient, str, str],
) -> None:
    client, domain, _ = site
    got = _query(client, domain, filters=[["is", "event:goal", ["Payment"]]])
    # 1329 + 1990 = 3319 over two events: 1659.50
    assert got["results"] == [{"dimensions": [], "metrics": [
        usd(3319.0, "$3.3K", "$3,319.00"), usd(1659.5, "$1.7K", "$1,659.50")]}]  # fmt: skip
    assert "metric_warnings" not in got["meta"]
    # A goal without a currency beside it does not change the currency (Plausible's rule).
    both = _query(client, domain, filters=[["is", "event:goal", ["Payment", "Signup"]]])
    assert both["results"][0]["metrics"][0] == usd(3324.0, "$3.3K", "$3,324.00")


def test_goals_of_two_currencies_answer_null_with_plausibles_warning(site: tuple[TestClient, str, str]) -> None:  # fmt: skip
    client, domain, _ = site
    got = _query(client, domain, filters=[["is", "event:goal", ["Payment", "AddToCart"]]])
    assert got["results"] == [{"dimensions": [], "metrics": [None, None]}]
    warning = got["meta"]["metric_warnings"]["total_revenue"]
    assert warning["code"] == "no_single_revenue_currency"
    assert warning["warning"].startswith("Revenue metrics are null")


def test_a_goal_breakdown_gives_each_goal_its_currency(site: tuple[TestClient, str, str]) -> None:
    client, domain, _ = site
    got = _query(client, domain, dimensions=["event:goal"], metrics=["visitors", "total_revenue"])
    rows = {r["dimensions"][0]: r["metrics"] for r in got["results"]}
    assert rows["Payment"] == [2, usd(3319.0, "$3.3K", "$3,319.00")]
    assert rows["AddToCart"] == [2, {"value": 30.31, "currency": "EUR", "short": "€30.3",
                                     "long": "€30.31"}]  # fmt: skip
    assert rows["Signup"] == [1, None]  # not a revenue goal: null, as in Plausible


def test_revenue_about_no_revenue_goal_is_null_unless_plain_is_asked(
    site: tuple[TestClient, str, str],
) -> None:
    client, domain, _ = site
    # No goal in the query, or a goal without a currency: null, and Plausible's warning.
    for extra in ({}, {"filters": [["is", "event:goal", ["Signup"]]]}):
        got = _query(client, domain, **extra)
        assert got["results"][0]["metrics"] == [None, None]
        assert got["meta"]["metric_warnings"]["average_revenue"]["code"] == (
            "no_revenue_goals_matching"
        )
    # Footfall's own extension: the plain sums (all five amounts; Signup's one)
    plain = {"include": {"plain_revenue": True}}
    assert _query(client, domain, **plain)["results"][0]["metrics"] == [3354.31, 670.86]
    signup = _query(client, domain, filters=[["is", "event:goal", ["Signup"]]], **plain)
    assert signup["results"][0]["metrics"] == [5.0, 5.0]
    assert "metric_warnings" not in signup["meta"]
    # ... and a goal breakdown keeps money for revenue goals, the number for the others
    rows = _query(client, domain, dimensions=["event:goal"], **plain)["results"]
    assert {r["dimensions"][0]: r["metrics"][0] for r in rows}["Signup"] == 5.0


def test_a_bad_currency_is_refused_naming_the_field(site: tuple[TestClient, str, str]) -> None:
    client, _, site_id = site
    for body, why in (
        ({"currency": "US"}, "ISO 4217"),
        ({"currency": "USD", "kind": "page", "target": "/buy"}, "event goals"),
    ):
        goal = {"name": "Bad", "kind": "event", "target": "Bad", **body}
        r = client.post(f"/api/v1/sites/{site_id}/goals", headers=AUTH, json=goal)
        assert r.status_code == 400, r.text
        assert "currency" in r.text and why in r.text
