"""A money object's ``value`` on ``POST /api/v2/query`` is Plausible's: the average revenue
at three decimals, truncated (Plausible averages Decimal(18, 3) amounts in ClickHouse),
while its ``long`` form and Footfall's own plain figure stay to the cent.

Three orders of 100.30, 40.30 and 60.60 USD: 201.20 / 3 = 67.0666..., so Plausible's value
is 67.066 (not 67.067, not 67.07) and the long form "$67.07".
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
ORDERS = [100.30, 40.30, 60.60]


@pytest.fixture
def client(tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, store_url=store_url))
    with TestClient(app) as c:
        created = c.post("/api/site/create", json={"name": "M", "domains": ["m.example"]},
                         headers=AUTH).json()  # fmt: skip
        for name, currency in (("Order", "USD"), ("Tip", ""), ("Signup", "")):
            r = c.post(f"/api/v1/sites/{created['site_id']}/goals", headers=AUTH,
                       json={"name": name, "kind": "event", "target": name,
                             "currency": currency})  # fmt: skip
            assert r.status_code == 201, r.text
        events = [{"event_type": "Order", "path": "/", "revenue": amount, "visitor_id": f"v{i}",
                   "timestamp": AT.isoformat()} for i, amount in enumerate(ORDERS)]  # fmt: skip
        events += [{"event_type": "Tip", "path": "/", "revenue": a, "visitor_id": "t",
                    "timestamp": AT.isoformat()} for a in (1.00, 1.00, 0.01)]  # fmt: skip
        events.append({"event_type": "Signup", "path": "/", "visitor_id": "s",
                       "timestamp": AT.isoformat()})  # fmt: skip
        r = c.post("/api/events", json={"events": events},
                   headers={"x-api-key": created["api_key"]})  # fmt: skip
        assert r.status_code == 202, r.text
        assert app.state.services.writer.wait_idle(15)
        yield c


def _metrics(c: TestClient, goal: str, **extra: Any) -> list[Any]:
    body = {"site_id": "m.example", "metrics": ["average_revenue", "total_revenue"],
            "date_range": "7d", "filters": [["is", "event:goal", [goal]]], **extra}  # fmt: skip
    r = c.post("/api/v2/query", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()["results"][0]["metrics"]  # type: ignore[no-any-return]


def test_average_revenue_money_value_is_plausibles(client: TestClient) -> None:
    average, total = _metrics(client, "Order")
    assert average == {"value": 67.066, "currency": "USD", "short": "$67.1", "long": "$67.07"}
    assert total == {"value": 201.2, "currency": "USD", "short": "$201.2", "long": "$201.20"}


def test_a_plain_average_stays_to_the_cent(client: TestClient) -> None:
    # Tip has no currency: Footfall's plain figures, 2.01 / 3 = 0.67 half-up to the cent.
    assert _metrics(client, "Tip", include={"plain_revenue": True}) == [0.67, 2.01]
    assert _metrics(client, "Tip") == [None, None]  # Plausible: no revenue goal matches


def test_a_goal_breakdown_orders_by_the_average_revenue(client: TestClient) -> None:
    body = {"site_id": "m.example", "metrics": ["average_revenue"], "date_range": "7d",
            "dimensions": ["event:goal"]}  # fmt: skip
    r = client.post("/api/v2/query", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    # 67.066 (USD), 0.67 (no currency: null), nothing (Signup): most first, as Plausible.
    rows = [(row["dimensions"][0], row["metrics"][0]) for row in r.json()["results"]]
    assert [name for name, _ in rows] == ["Order", "Tip", "Signup"]
    assert rows[0][1]["value"] == 67.066 and rows[1][1] is None and rows[2][1] is None


def test_a_client_cannot_ask_for_the_unrounded_average_as_a_plain_figure(
    client: TestClient,
) -> None:
    # include.money_value is the endpoint's switch: a client's is dropped, plain stays cents
    tip = _metrics(client, "Tip", include={"plain_revenue": True, "money_value": True})
    assert tip == [0.67, 2.01]
    r = client.post("/api/v1/export?format=jsonl", headers=AUTH, json={
        "site_id": "m.example", "metrics": ["average_revenue"], "date_range": "7d",
        "filters": [["is", "event:goal", ["Order"]]], "include": {"money_value": True}})  # fmt: skip
    assert r.status_code == 200, r.text
    assert "67.066" not in r.text and "67.07" in r.text
