"""A Plausible CSV export's places: its regions are ISO 3166-2 codes and its cities GeoNames
ids, Footfall keeps both by name (as collection does), so ``visit:region_name``,
``visit:city_name`` and the two names together answer the imported rows by name on both
stores. Expected names are written out here (ISO 3166-2 and GeoNames); counts are the CSV
rows'."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from footfall.config import Settings
from footfall.imports.plausible.places import have_cities
from footfall.imports.plausible.values import stored_value
from tests.conftest import ADMIN, make_settings, make_shop

AUTH = {"Authorization": f"Bearer {ADMIN}"}
LOCATIONS = [
    "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews",
    "2023-01-01,EE,EE-37,588409,3,3,0,0,3",  # Harju County, Tallinn
    "2023-01-01,EE,EE-39,591632,2,2,0,0,2",  # Hiiu County, Kärdla
    "2023-01-01,GB,GB-ENG,2643743,33,33,0,0,33",  # England, London
    "2023-01-02,GB,GB-ENG,2643743,1,1,0,0,1",
    "2023-01-02,DE,,0,4,4,0,0,4",  # no region, no city
]
RANGE = ["2023-01-01", "2023-01-02"]


def test_region_codes_and_city_ids_become_names() -> None:
    assert stored_value("region", "EE-37") == "Harjumaa"
    assert stored_value("region", "de-be") == "Berlin"
    assert stored_value("region", "Berlin") == "Berlin"  # already a name: kept
    assert stored_value("region", "(not set)") == ""
    assert stored_value("city", "0") == ""
    if have_cities():
        assert stored_value("city", "588409") == "Tallinn"
        assert stored_value("city", "591632") == "Kärdla"
        assert stored_value("city", "999999999") == ""  # no such city: left out


def _import(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = make_settings(tmp_path, store_url=store_url)
    make_shop(settings)
    export = tmp_path / "plausible.zip"
    with zipfile.ZipFile(export, "w") as z:
        z.writestr("imported_locations_20230101_20230102.csv", "\n".join(LOCATIONS) + "\n")
    monkeypatch.setenv("FOOTFALL_STORE_URL", settings.store_url)
    args = ["import", "plausible-csv", str(export), "--site", "shop"]
    assert main([*args, "--data-dir", str(settings.data_dir)]) == 0
    return settings


def _rows(client: TestClient, *dims: str, **body: Any) -> dict[str, int]:
    r = client.post("/api/v2/query", headers=AUTH, json={
        "site_id": "shop.example", "date_range": RANGE, "metrics": ["visitors"],
        "dimensions": list(dims), "include": {"imports": True}, **body})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["meta"]["imports_included"] is True, r.json()["meta"]
    return {"/".join(row["dimensions"]): row["metrics"][0] for row in r.json()["results"]}


def test_imported_places_answer_by_name(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    settings = _import(tmp_path, store_url, monkeypatch)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"]["locations"] == 5
    with TestClient(create_app(settings)) as client:
        # Plausible's names for its codes; the row without a region is left out, as there.
        assert _rows(client, "visit:region_name") == {
            "England": 33 + 1, "Harjumaa": 3, "Hiiumaa": 2}  # fmt: skip
        assert _rows(client, "visit:country_name") == {
            "United Kingdom": 34, "Estonia": 5, "Germany": 4}  # fmt: skip
        # Two dimensions from two imported tables cannot be answered from either.
        r = client.post("/api/v2/query", headers=AUTH, json={
            "site_id": "shop.example", "date_range": RANGE, "metrics": ["visitors"],
            "dimensions": ["visit:country_name", "visit:device"],
            "include": {"imports": True}})  # fmt: skip
        assert r.json()["meta"]["imports_skip_reason"] == "unsupported_query"
        assert r.json()["results"] == []
        if not have_cities():
            return
        assert _rows(client, "visit:city_name") == {"London": 34, "Tallinn": 3, "Kärdla": 2}
        assert _rows(client, "visit:city_name", "visit:country_name") == {
            "London/United Kingdom": 34, "Tallinn/Estonia": 3, "Kärdla/Estonia": 2}  # fmt: skip
        # A filter over the same table's columns keeps whole imported rows.
        estonia = [["or", [["is", "visit:country_name", ["Estonia"]],
                           ["is", "visit:city_name", ["Nowhere"]]]]]  # fmt: skip
        assert _rows(client, "visit:city_name", "visit:country_name", filters=estonia) == {
            "Tallinn/Estonia": 3, "Kärdla/Estonia": 2}  # fmt: skip
