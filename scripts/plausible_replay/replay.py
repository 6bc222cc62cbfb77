"""Replay Plausible's Stats API v2 tests against Footfall and print how often they agree.

``python -m scripts.plausible_replay.replay DIR [--diffs diffs.json] [--only TEXT]``

DIR holds copies of Plausible's ``query*_test.exs`` files (never committed here: take
them from github.com/plausible/analytics, ``test/plausible_web/controllers/api/
external_stats_controller/``; the figures in docs/plausible-compat.md name the files and
their commits: ``query_test.exs``, ``query_imported_test.exs``,
``query_validations_test.exs``, ``query_comparisons_test.exs``,
``query_goal_dimension_test.exs``, ``query_special_metrics_test.exs`` and
``query_timezone_test.exs``). Each test
(``convert.py``) gets a fresh in-process Footfall (DuckDB store, the real lifespan, a
temporary data directory); its fixture events go through ``POST /api/events``
(``fixtures.py``), its goals through the goals API, and each of its request bodies to
``POST /api/v2/query`` with the site's domain as ``site_id``. A case agrees when Footfall
accepts what Plausible accepts (200) and refuses what it refuses (4xx), and for a 200 gives
the same ``results`` rows in the same order and the ``meta`` figures the test checks.
Error wording is reported beside it, not counted. Cases whose fixtures no request can
reproduce are counted apart. Differences go to ``--diffs`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.config import Settings
from footfall.store.imported import conform
from scripts.plausible_replay import fixtures
from scripts.plausible_replay.convert import Case, convert_dir

ADMIN = "replay-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
DOMAIN = "replay.test"


def category(case: Case) -> str:
    body = case["body"]
    text = json.dumps(body)
    if case["status"] != 200:
        return "rejections"
    for word, name in (
        ("has_done", "behavioural filters"),
        ("has_not_done", "behavioural filters"),
        ("event:goal", "goals"),
        ("revenue", "revenue"),
        ("scroll_depth", "scroll depth"),
        ("time", "time buckets"),
        ("event:props", "custom properties"),
        ("visit:country", "locations"),
        ("visit:city", "locations"),
        ("pagination", "pagination"),
    ):
        if word in text:
            return name
    if body.get("dimensions"):
        return "breakdowns"
    return "filters" if body.get("filters") else "aggregates"


def same(a: Any, b: Any) -> bool:
    """JSON equality with 50 == 50.0, as Elixir's == on decoded JSON numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def _dig(data: Any, key: str) -> Any:
    for part in key.split("/"):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def judge(case: Case, status: int, data: Any) -> tuple[bool, str]:
    """(agrees, what differs) for Footfall's answer to ``case``."""
    want = case["status"]
    if (want == 200) != (status == 200) or not 200 <= status < 500:
        return False, f"status {status}, Plausible {want}"
    if want != 200:
        return True, ""
    for key, value in case["expect"].items():
        kind, _, name = key.rpartition(":")
        got = _dig(data, name)
        if kind == "length":
            ok = isinstance(got, list) and len(got) == value
        elif kind == "contains":
            ok = isinstance(got, str) and value in got
        elif key == "contains":
            ok = all(any(same(v, r) for r in data.get("results", [])) for v in value)
        else:
            ok = same(got, value)
        if not ok:
            return False, f"{key}: got {json.dumps(got)[:300]}, Plausible {json.dumps(value)[:300]}"
    return True, ""


def error_words(case: Case, data: Any) -> bool | None:
    """Whether the 400's message is Plausible's (None when the test names none)."""
    exp = case["expect"]
    got = data.get("error", "") if isinstance(data, dict) else ""
    if "error" in exp:
        return bool(got == exp["error"])
    if "body" in exp and isinstance(exp["body"], dict):
        return bool(got == exp["body"].get("error"))
    if "contains:error" in exp:
        return bool(exp["contains:error"] in got)
    return None


def run_test(cases: list[Case], root: Path) -> list[dict[str, Any]]:
    """Replay one test's cases on a fresh Footfall; one verdict per case."""
    places: dict[tuple[str, str, int], str] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        events = [fixtures.event(fx, n, now, places) for n, fx in enumerate(cases[0]["events"])]
    except fixtures.Unrepresentable as exc:
        return [{"id": c["id"], "verdict": "unrepresentable", "why": str(exc)} for c in cases]
    loose: set[str] = set()
    for fx, ev in zip(cases[0]["events"], events, strict=True):
        loose |= fixtures.unfaithful(fx, ev["user_agent"])
    mmdb = root / "places.mmdb"
    if places:
        fixtures.write_mmdb(mmdb, places)
    settings = Settings(
        data_dir=root / "data",
        admin_token=ADMIN,
        flush_interval_ms=20,
        max_past_days=36500,
        log_level="warning",
        maxmind_db=str(mmdb) if places else "",
    )
    app = create_app(settings)
    verdicts: list[dict[str, Any]] = []
    answers: dict[str, Any] = {}
    with TestClient(app) as client:
        site = client.post(
            "/api/site/create",
            headers=AUTH,
            json={"name": "replay", "domains": [DOMAIN], "timezone": cases[0]["timezone"]},
        ).json()
        if cases[0].get("imported"):
            write_imported(app, site["site_id"], cases[0]["imported"], now)
        for g in cases[0]["goals"]:
            r = client.post(
                f"/api/v1/sites/{site['site_id']}/goals", headers=AUTH, json=fixtures.goal(g)
            )
            assert r.status_code == 201, r.text
        if events:
            r = client.post(
                "/api/events", json={"events": events}, headers={"x-api-key": site["api_key"]}
            )
            if r.status_code != 202 or r.json().get("rejected"):
                why = f"ingestion refused the fixture: {r.text[:300]}"
                return [{"id": c["id"], "verdict": "unrepresentable", "why": why} for c in cases]
            assert app.state.services.writer.wait_idle(15)
        for case in cases:
            off = [d for d in loose if f'"{d}"' in json.dumps(case["body"])]
            if off:
                why = f"the fixture's {off} is a value ingestion never stores"
                verdicts.append({"id": case["id"], "verdict": "unrepresentable", "why": why})
                continue
            body = case["body"]
            if "$returned_query_of" in body:
                body = answers.get(body["$returned_query_of"], {}).get("query", {})
            body = json.loads(json.dumps(body).replace('"$SITE"', json.dumps(DOMAIN)))
            r = client.post("/api/v2/query", json=body, headers=AUTH)
            data = r.json()
            answers[case["id"]] = data
            ok, why = judge(case, r.status_code, data)
            verdicts.append(
                {
                    "id": case["id"],
                    "verdict": "agree" if ok else "differ",
                    "why": why,
                    "category": category(case),
                    "plausible_status": case["status"],
                    "status": r.status_code,
                    "error_words": error_words(case, data),
                    "error": data.get("error") if isinstance(data, dict) else None,
                    "body": case["body"],
                }
            )
    return verdicts


def write_imported(app: Any, site_id: str, fixtures_: list[dict[str, Any]], now: datetime) -> None:
    """The test's imported_* fixtures into the store's imported aggregates, as an import."""
    rows = fixtures.imported_rows(fixtures_, now.date().isoformat())
    columns = {name: [r.get(name) for r in rows] for name in {k for r in rows for k in r}}
    columns["date"] = [date.fromisoformat(str(d)) for d in columns["date"]]
    table = conform(pa.table(columns), site_id, "replay")
    app.state.services.store.write_imported(site_id, "replay", table)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="folder of Plausible's saved .exs test files")
    ap.add_argument("--diffs", type=Path, default=Path("plausible-diffs.json"))
    ap.add_argument("--only", default="", help="replay only tests whose id contains this")
    args = ap.parse_args(argv)
    started = time.monotonic()
    cases, unconverted = convert_dir(args.folder)
    cases = [c for c in cases if args.only in c["id"]]
    verdicts: list[dict[str, Any]] = []
    for _, group in groupby(cases, key=lambda c: (c["file"], c["test"])):
        with tempfile.TemporaryDirectory() as tmp:
            verdicts.extend(run_test(list(group), Path(tmp)))
    report(verdicts, unconverted, time.monotonic() - started)
    args.diffs.write_text(json.dumps([v for v in verdicts if v["verdict"] != "agree"], indent=1))
    return 0


def report(verdicts: list[dict[str, Any]], unconverted: list[dict[str, str]], secs: float) -> None:
    counts = Counter(v["verdict"] for v in verdicts)
    judged = [v for v in verdicts if v["verdict"] != "unrepresentable"]
    agree = counts["agree"]
    print(
        f"Plausible v2 replay: {len(verdicts) + len(unconverted)} tests' requests read, "
        f"{len(unconverted)} tests not converted, {counts['unrepresentable']} cases with "
        f"fixtures no request reproduces, {len(judged)} replayed in {secs:.0f} s"
    )
    print(f"Agreement: {agree} of {len(judged)} ({100 * agree / max(len(judged), 1):.1f}%)")
    by_file: dict[str, Counter[str]] = defaultdict(Counter)
    for v in verdicts:
        by_file[v["id"].split("::")[0]][v["verdict"]] += 1
    for name, c in sorted(by_file.items()):
        odd = f", {c['unrepresentable']} unrepresentable" if c["unrepresentable"] else ""
        print(f"  {name:44} {c['agree']:3} of {c['agree'] + c['differ']:3}{odd}")
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    for v in judged:
        by_cat[v["category"]][v["verdict"]] += 1
    for cat, c in sorted(by_cat.items()):
        print(f"  {cat:22} {c['agree']:3} of {c['agree'] + c['differ']:3}")
    words = [v["error_words"] for v in judged if v["error_words"] is not None]
    print(f"Rejections with Plausible's error wording: {sum(words)} of {len(words)}")
    for v in judged:
        if v["error_words"] is False:
            print(f"  WORDS {v['id']}: {v['error']!r}")
    for v in judged:
        if v["verdict"] == "differ":
            print(f"  DIFF {v['id']}: {v['why']}")
    for v in verdicts:
        if v["verdict"] == "unrepresentable":
            print(f"  UNREPRESENTABLE {v['id']}: {v['why']}")


if __name__ == "__main__":
    sys.exit(main())
