"""``footfall import plausible-csv``: a Plausible CSV export zip built here is kept as
imported aggregates on both stores; /api/v2/query adds them to collected data only when
asked (``include.imports``) and only where Plausible can, with the numbers a plain-Python
reference computes from the CSV rows and the collected visit."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from footfall.config import Settings
from tests.conftest import ADMIN, make_settings, make_shop

AUTH = {"Authorization": f"Bearer {ADMIN}"}
MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) Version/17.0 Safari/605.1.15")  # fmt: skip
FILES = {
    "imported_visitors_20230101_20230102.csv": [
        "date,visitors,pageviews,bounces,visits,visit_duration",
        "2023-01-01,10,30,4,12,600",
        "2023-01-02,5,8,2,6,120",
    ],
    "imported_pages_20230101_20230102.csv": [
        "date,hostname,page,visits,visitors,pageviews,scroll_depth,pageleave_visitors",
        "2023-01-01,shop.example,/,8,7,20,,0",
        "2023-01-01,shop.example,/pricing,4,3,10,,0",
        "2023-01-02,shop.example,/,6,5,8,,0",
    ],
    "imported_devices_20230101_20230102.csv": [
        "date,device,visitors,visits,visit_duration,bounces,pageviews",
        "2023-01-01,Desktop,6,7,400,2,18",
        "2023-01-01,Mobile,4,5,200,2,12",
        "2023-01-02,Desktop,5,6,120,2,8",
    ],
    "imported_operating_systems_20230101_20230102.csv": [
        "date,operating_system,operating_system_version,visitors,visits,visit_duration,bounces,pageviews",
        "2023-01-01,Mac,14,6,7,400,2,18",
        "2023-01-01,(not set),,4,5,200,2,12",
    ],
    "imported_locations_20230101_20230102.csv": [
        "date,country,region,city,visitors,visits,visit_duration,bounces,pageviews",
        "2023-01-01,DE,DE-BE,2950159,10,12,600,4,30",
    ],
    "imported_custom_events_20230101_20230102.csv": [
        "date,name,link_url,path,visitors,events",
        "2023-01-01,Signup,,,2,3",
    ],
    "README.txt": ["not an export file"],
}
# The collected visit: one visitor, two pages five minutes apart on 2023-01-02.
LOG = [
    f'198.51.100.7 - - [02/Jan/2023:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "{MAC}"',
    f'198.51.100.7 - - [02/Jan/2023:10:05:00 +0000] "GET /pricing HTTP/1.1" 200 5 "-" "{MAC}"',
]
NATIVE = {"visitors": 1, "pageviews": 2, "visits": 1, "bounces": 0, "duration": 300}
RANGE = {"date_range": ["2023-01-01", "2023-01-02"]}


def half_up(x: Decimal, places: str) -> float:
    return float(x.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def rows(name: str) -> list[dict[str, str]]:
    header, *lines = FILES[name]
    return [dict(zip(header.split(","), line.split(","), strict=True)) for line in lines]


def reference_totals() -> list[Any]:
    """visitors, pageviews, visits, bounce_rate, visit_duration over both sources."""
    v = rows("imported_visitors_20230101_20230102.csv")
    visitors = sum(int(r["visitors"]) for r in v) + NATIVE["visitors"]
    pageviews = sum(int(r["pageviews"]) for r in v) + NATIVE["pageviews"]
    visits = sum(int(r["visits"]) for r in v) + NATIVE["visits"]
    bounces = sum(int(r["bounces"]) for r in v) + NATIVE["bounces"]
    duration = sum(int(r["visit_duration"]) for r in v) + NATIVE["duration"]
    return [visitors, pageviews, visits, half_up(Decimal(100 * bounces) / visits, "0.1"),
            int(half_up(Decimal(duration) / visits, "1"))]  # fmt: skip


def build_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, lines in FILES.items():
            z.writestr(name, "\n".join(lines) + "\n")


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str) -> Any:
    monkeypatch.setenv("FOOTFALL_STORE_URL", settings.store_url)
    code = main([*args, "--data-dir", str(settings.data_dir)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out.strip().splitlines()[-1])


def ask(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v2/query", json={"site_id": "shop", **RANGE, **body}, headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def table(answer: dict[str, Any]) -> dict[str, list[Any]]:
    return {"/".join(r["dimensions"]): r["metrics"] for r in answer["results"]}


def test_imported_aggregates_join_reports_when_asked(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    settings = make_settings(tmp_path, store_url=store_url)
    make_shop(settings)
    export = tmp_path / "plausible.zip"
    build_zip(export)
    got = cli(
        settings, monkeypatch, capsys, "import", "plausible-csv", str(export), "--site", "shop"
    )
    assert got["rows"]["pages"] == 3 and got["skipped"] == ["README.txt"]
    (tmp_path / "access.log").write_text("\n".join(LOG) + "\n")
    cli(
        settings,
        monkeypatch,
        capsys,
        "import",
        "access-log",
        str(tmp_path / "access.log"),
        "--site",
        "shop",
    )
    # The same export again replaces what it wrote.
    cli(settings, monkeypatch, capsys, "import", "plausible-csv", str(export), "--site", "shop")

    metrics = ["visitors", "pageviews", "visits", "bounce_rate", "visit_duration"]
    with TestClient(create_app(settings)) as client:
        native = ask(client, {"metrics": metrics})
        assert native["results"][0]["metrics"] == [1, 2, 1, 0.0, 300]
        assert "imports_included" not in native["meta"]
        both = ask(client, {"metrics": metrics, "include": {"imports": True}})
        assert both["results"][0]["metrics"] == reference_totals()
        assert both["meta"]["imports_included"] is True

        days = ask(client, {"metrics": ["visitors"], "dimensions": ["time:day"],
                            "include": {"imports": True}})  # fmt: skip
        assert table(days) == {"2023-01-01": [10], "2023-01-02": [5 + 1]}
        pages = ask(client, {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"],
                             "include": {"imports": True}})  # fmt: skip
        assert table(pages) == {"/": [7 + 5 + 1, 20 + 8 + 1], "/pricing": [3 + 1, 10 + 1]}
        # Plausible's "Mac" and "Desktop" are the rows the collected Mac desktop visit is in.
        native_os = table(ask(client, {"metrics": ["visitors"], "dimensions": ["visit:os"]}))
        (mac,) = native_os
        oses = table(ask(client, {"metrics": ["visitors"], "dimensions": ["visit:os"],
                                  "include": {"imports": True}}))  # fmt: skip
        assert oses == {mac: [6 + 1], "(not set)": [4]}
        (desktop,) = table(ask(client, {"metrics": ["visitors"], "dimensions": ["visit:device"]}))
        devices = table(ask(client, {"metrics": ["visitors"], "dimensions": ["visit:device"],
                                     "include": {"imports": True}}))  # fmt: skip
        assert devices[desktop] == [6 + 5 + 1] and sum(v[0] for v in devices.values()) == 16
        names = table(ask(client, {"metrics": ["visitors", "events"], "dimensions": ["event:name"],
                                   "include": {"imports": True}}))  # fmt: skip
        assert names["Signup"] == [2, 3]

        # A period without imported days: nothing to mark on the dashboard.
        later = ask(client, {"metrics": ["visitors"], "include": {"imports": True},
                             "date_range": ["2023-02-01", "2023-02-02"]})  # fmt: skip
        assert later["meta"]["imports_included"] is False
        assert "imports_skip_reason" not in later["meta"]
        # A filter on the imported table read is applied to it, as in Plausible ...
        paged = ask(client, {"metrics": ["visitors"], "include": {"imports": True},
                             "filters": [["is", "event:page", ["/"]]]})  # fmt: skip
        assert paged["results"][0]["metrics"] == [1 + 7 + 5]
        # ... one on another table cannot be: collected data only, and said so.
        filtered = ask(client, {"metrics": ["visitors"], "include": {"imports": True},
                                "dimensions": ["event:page"],
                                "filters": [["is", "visit:os", ["Mac"]]]})  # fmt: skip
        assert sum(r["metrics"][0] for r in filtered["results"]) == 2  # the visit's two pages
        assert filtered["meta"]["imports_included"] is False
        assert filtered["meta"]["imports_skip_reason"] == "unsupported_query"
        v1_reports_take_imports_when_asked(client)


def v1(client: TestClient, report: str, status: int = 200, **params: str) -> dict[str, Any]:
    period = {"period": "custom", "from": "2023-01-01", "to": "2023-01-02"}
    r = client.get(f"/api/v1/{report}", params={"site_id": "shop", **period, **params},
                   headers=AUTH)  # fmt: skip
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def v1_reports_take_imports_when_asked(client: TestClient) -> None:
    """/api/v1 reports: ``with_imported=true`` (Plausible's v1 parameter) adds the imported
    aggregates where /api/v2/query's include.imports would, and the envelope says so."""
    keys = ["unique_visitors", "total_views", "sessions_count", "bounce_rate",
            "avg_session_duration"]  # fmt: skip
    plain = v1(client, "summary")
    assert [plain["data"][k] for k in keys] == [1, 2, 1, 0.0, 300] and "meta" not in plain
    both = v1(client, "summary", with_imported="true")
    assert [both["data"][k] for k in keys] == reference_totals()
    assert both["meta"] == {"imports_included": True}
    days = v1(client, "trends", include_imports="true", interval="day", metrics="visitors")
    assert [d["visitors"] for d in days["data"]["series"]] == [10, 5 + 1]
    # Where Plausible cannot add imports: collected data only, and the reason.
    hours = v1(client, "trends", with_imported="true", interval="hour", metrics="visitors")
    assert sum(d["visitors"] for d in hours["data"]["series"]) == 1
    assert hours["meta"] == {"imports_included": False,
                             "imports_skip_reason": "unsupported_interval"}  # fmt: skip
    bad = v1(client, "summary", 400, with_imported="maybe")
    assert "with_imported" in json.dumps(bad)


def test_bad_exports_are_refused_naming_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    settings = make_settings(tmp_path)
    monkeypatch.setenv("FOOTFALL_STORE_URL", "")
    cases = {
        "missing column": ({"imported_pages_20230101_20230101.csv": "date,page,visitors\n"},
                           "imported_pages_20230101_20230101.csv: column 'pageviews' is missing"),
        "bad number": ({"imported_visitors_20230101_20230101.csv":
                        "date,visitors,pageviews,bounces,visits,visit_duration\n2023-01-01,x,1,1,1,1\n"},
                       "imported_visitors_20230101_20230101.csv:2: visitors: 'x' is not a number"),
        "nothing": ({"notes.txt": "hello"}, "no Plausible export files"),
    }  # fmt: skip
    for name, (files, message) in cases.items():
        path = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as z:
            for member, text in files.items():
                z.writestr(member, text)
        assert main(["import", "plausible-csv", str(path), "--site", "shop",
                     "--data-dir", str(settings.data_dir)]) == 2, name  # fmt: skip
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (name, err)
    path = tmp_path / "not.zip"
    path.write_bytes(io.BytesIO(b"plain text").getvalue())
    assert main(["import", "plausible-csv", str(path), "--site", "shop",
                 "--data-dir", str(settings.data_dir)]) == 2  # fmt: skip
    assert "not a zip file" in capsys.readouterr().err
