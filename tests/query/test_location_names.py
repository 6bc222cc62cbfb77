"""``visit:country_name``, ``visit:region_name`` and ``visit:city_name`` (Plausible v2) as
dimensions and filters in POST /api/v2/query. Locations come from a tiny .mmdb the test
builds (and the built-in table for countries it lacks); expected counts are literals."""

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
AT = (datetime.now(UTC) - timedelta(days=1)).isoformat()
# One visitor per address: two in London, one in the US, one in Germany, one unknown.
IPS = ["81.2.69.160", "81.2.69.161", "8.8.8.8", "5.9.0.1", "10.0.0.1"]


def _mmdb(path: Path) -> None:
    mmdb_writer = pytest.importorskip("mmdb_writer", reason="mmdb-writer (dev extra)")
    from netaddr import IPSet

    writer = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")  # fmt: skip
    writer.insert_network(IPSet(["81.2.69.0/24"]), {
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
        "city": {"names": {"en": "London"}},
    })  # fmt: skip
    writer.to_db_file(str(path))


@pytest.fixture(scope="module")
def visitors(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Iterator[Any]:
    tmp = Path(tmp_path_factory.mktemp("names"))
    _mmdb(tmp / "tiny.mmdb")
    settings = make_settings(tmp, store_url=store_url, maxmind_db=str(tmp / "tiny.mmdb"))
    app = create_app(settings)
    with TestClient(app) as client:
        site = client.post("/api/site/create", json={"name": "N", "domains": ["names.example"]},
                           headers=AUTH).json()  # fmt: skip
        events = [{"event_type": "pageview", "path": "/", "visitor_id": f"v{i}", "ip": ip,
                   "timestamp": AT} for i, ip in enumerate(IPS)]  # fmt: skip
        r = client.post(
            "/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]}
        )
        assert r.status_code == 202 and r.json()["rejected"] == [], r.text
        assert app.state.services.writer.wait_idle(15)

        def run(body: dict[str, Any], status: int = 200) -> dict[str, Any]:
            full = {"site_id": site["site_id"], "metrics": ["visitors"], "date_range": "7d", **body}
            r = client.post("/api/v2/query", json=full, headers=AUTH)
            assert r.status_code == status, r.text
            out: dict[str, Any] = r.json()
            return out

        yield run


def rows(result: dict[str, Any]) -> dict[str, int]:
    return {r["dimensions"][0]: r["metrics"][0] for r in result["results"]}


def test_location_names_as_dimensions(visitors: Any) -> None:
    assert rows(visitors({"dimensions": ["visit:country_name"]})) == {
        "United Kingdom": 2, "United States": 1, "Germany": 1, "(not set)": 1,
    }  # fmt: skip
    assert rows(visitors({"dimensions": ["visit:region_name"]})) == {"England": 2, "(not set)": 3}
    assert rows(visitors({"dimensions": ["visit:city_name"]})) == {"London": 2, "(not set)": 3}
    both = visitors({"dimensions": ["visit:country_name", "visit:city_name"]})
    assert {tuple(r["dimensions"]): r["metrics"][0] for r in both["results"]}[
        ("United Kingdom", "London")
    ] == 2


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (["is", "visit:country_name", ["Germany", "United Kingdom"]], 3),
        (["contains", "visit:country_name", ["united"], {"case_sensitive": False}], 3),
        (["contains", "visit:country_name", ["united"]], 0),
        (["is_not", "visit:country_name", ["United States"]], 4),
        (["matches", "visit:country_name", ["^Ger"]], 1),
        (["is", "visit:country_name", ["(none)"]], 1),
        (["is", "visit:country_name", ["Atlantis"]], 0),
        (["is_not", "visit:country_name", ["Atlantis"]], 5),
        (["is", "visit:city_name", ["London"]], 2),
        (["is_not", "visit:region_name", ["England"]], 3),
    ],
)
def test_location_names_as_filters(visitors: Any, flt: list[Any], expected: int) -> None:
    assert visitors({"filters": [flt]})["results"][0]["metrics"] == [expected]
