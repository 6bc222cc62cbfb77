"""``date_range`` in POST /api/v2/query beyond the fixed names: Plausible's ``Nd`` (last N
days) and ``Nmo`` (last N calendar months) of any length, and ``[from, to]`` as ISO-8601
date-times with offsets (the instants, ``to`` inclusive to the second). Events are placed
at known instants; expected counts are literals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}
E = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=3)
DAY = E.date()
S, M = timedelta(seconds=1), timedelta(minutes=1)
# (instant, path): 09:00:00 to 12:00:00 UTC on DAY are the 3-hour window the tests ask for.
EVENTS = [
    (E - 2 * 60 * M, "/before"),  # 07:00, in the previous period of the same length
    (E - S, "/early"),  # 08:59:59, one second too early
    (E, "/start"),  # 09:00:00, the first instant
    (E + 150 * M, "/middle"),
    (E + 180 * M + 500 * timedelta(milliseconds=1), "/last-second"),  # 12:00:00.500
    (E + 180 * M + S, "/late"),  # 12:00:01, one second too late
]


@pytest.fixture(scope="module")
def query(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Any]:
    settings = make_settings(Path(tmp_path_factory.mktemp("ranges")), store_url=store_url)
    app = create_app(settings)
    with TestClient(app) as client:
        site = client.post(
            "/api/site/create", json={"name": "R", "domains": ["ranges.example"]}, headers=AUTH
        ).json()
        batch = [
            {
                "event_type": "pageview",
                "path": p,
                "visitor_id": f"v{i}",
                "timestamp": at.isoformat(),
            }
            for i, (at, p) in enumerate(EVENTS)
        ]
        r = client.post(
            "/api/events", json={"events": batch}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)

        def run(body: dict[str, Any], status: int = 200) -> dict[str, Any]:
            full = {"site_id": site["site_id"], "metrics": ["pageviews"], **body}
            r = client.post("/api/v2/query", json=full, headers=AUTH)
            assert r.status_code == status, r.text
            out: dict[str, Any] = r.json()
            return out

        yield run


def pageviews(result: dict[str, Any]) -> int:
    return int(result["results"][0]["metrics"][0])


def next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def test_last_n_days_of_any_length(query: Any) -> None:
    # "10d" ending nine days after DAY still holds DAY; ending ten days after, not.
    assert pageviews(query({"date_range": "10d", "date": str(DAY + timedelta(days=9))})) == 6
    assert pageviews(query({"date_range": "10d", "date": str(DAY + timedelta(days=10))})) == 0
    got = query({"date_range": "45d", "date": str(DAY)})
    assert got["meta"]["period"] == {"from": str(DAY - timedelta(days=44)), "to": str(DAY)}


def test_last_n_calendar_months_of_any_length(query: Any) -> None:
    later = next_month(DAY)  # a day in the month after DAY's
    assert pageviews(query({"date_range": "2mo", "date": str(later)})) == 6
    assert pageviews(query({"date_range": "1mo", "date": str(later)})) == 0
    got = query({"date_range": "3mo", "date": str(later)})
    y, m = divmod(later.year * 12 + later.month - 1 - 2, 12)  # two months before later's
    assert got["meta"]["period"]["from"] == str(date(y, m + 1, 1))


def test_date_times_with_offsets_are_the_instants_to_the_second(query: Any) -> None:
    frm = (E + 3 * 60 * M).replace(tzinfo=None).isoformat() + "+03:00"  # 09:00:00 UTC
    to = (E + 6 * 60 * M).replace(tzinfo=None).isoformat() + "+03:00"  # 12:00:00 UTC
    got = query({"date_range": [frm, to], "dimensions": ["event:page"]})
    assert {r["dimensions"][0]: r["metrics"][0] for r in got["results"]} == {
        "/start": 1, "/middle": 1, "/last-second": 1,
    }  # fmt: skip
    # The same instants written in UTC; the returned query can be posted again.
    utc = query({"date_range": [E.isoformat(), (E + 180 * M).isoformat().replace("+00:00", "Z")]})
    assert pageviews(utc) == 3
    assert pageviews(query({"date_range": utc["query"]["date_range"]})) == 3


def test_date_time_range_compares_with_the_same_length_before(query: Any) -> None:
    got = query({"date_range": [E.isoformat(), (E + 180 * M).isoformat()],
                 "compare": "previous_period", "dimensions": ["time:hour"]})  # fmt: skip
    hours = {r["dimensions"][0][11:13]: r["metrics"][0] for r in got["results"]}
    assert hours == {"09": 1, "11": 1, "12": 1}
    total = query({"date_range": [E.isoformat(), (E + 180 * M).isoformat()],
                   "compare": "previous_period", "include": {"totals": True}})  # fmt: skip
    assert total["meta"]["totals"]["comparison"] == {"pageviews": 2}  # 07:00 and 08:59:59


@pytest.mark.parametrize(
    "date_range",
    [
        "2y",
        "0d",
        "10w",
        "1d ",
        "007",
        "99999d",
        "10\u0661d",
        "mo",
        ["2026-01-01T00:00:00", "2026-01-02T00:00:00"],  # no offset
        ["2026-01-01", "2026-01-02T00:00:00Z"],  # a date and a date-time
        ["2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z"],  # ends before it starts
        ["2026-13-01T00:00:00Z", "2026-12-02T00:00:00Z"],
        ["0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00Z"],
        ["2026-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00"],
    ],
)
def test_bad_date_ranges_are_400_naming_date_range(query: Any, date_range: Any) -> None:
    got = query({"date_range": date_range}, status=400)
    assert "date_range" in str(got), got
