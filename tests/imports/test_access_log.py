"""``footfall import access-log``: a log built here (pages, assets, bots, errors, other hosts,
garbage) imported on both stores; the reports count exactly the page views a plain-Python
reference finds, a second import adds nothing, and today's lines hash to the visitor live
collection makes of the same IP and browser."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from footfall.app import create_app
from footfall.cli import main
from footfall.config import Settings
from tests.conftest import ADMIN, make_settings, make_shop, require_services

AUTH = {"Authorization": f"Bearer {ADMIN}"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DAY = datetime(2024, 3, 5, tzinfo=UTC)  # far older than FOOTFALL_MAX_PAST_DAYS (30)

# Human page views: (ip, user agent, minutes after DAY 08:00, target, referrer).
PAGES = [
    ("198.51.100.1", FIREFOX, 0, "/", "https://www.google.com/"),
    ("198.51.100.1", FIREFOX, 5, "/pricing?utm_source=news&token=secret", "-"),
    ("198.51.100.1", FIREFOX, 20, "/blog/post.html", "https://shop.example/pricing"),
    ("198.51.100.1", FIREFOX, 90, "/", "-"),  # 70 minutes later: a second visit
    ("198.51.100.2", FIREFOX, 10, "/pricing", "-"),  # another IP: another visitor
    ("198.51.100.1", SAFARI, 15, "/", "-"),  # another browser: another visitor
    ("198.51.100.1", SAFARI, 44, "/about", "-"),  # 29 minutes later: the same visit
]
# Lines that are no page views, and why.
NOISE = [
    ('198.51.100.1 - - [{t}] "GET /app.css HTTP/1.1" 200 10 "-" "{ua}"', "asset"),
    ('198.51.100.1 - - [{t}] "GET /logo.png?v=2 HTTP/1.1" 200 10 "-" "{ua}"', "asset"),
    ('198.51.100.1 - - [{t}] "GET /.well-known/security HTTP/1.1" 200 10 "-" "{ua}"', "asset"),
    ('198.51.100.1 - - [{t}] "GET /gone HTTP/1.1" 404 10 "-" "{ua}"', "status"),
    ('198.51.100.1 - - [{t}] "GET /old HTTP/1.1" 301 10 "-" "{ua}"', "status"),
    ('198.51.100.1 - - [{t}] "POST /pricing HTTP/1.1" 200 10 "-" "{ua}"', "method"),
    ('198.51.100.1 - - [{t}] "HEAD / HTTP/1.1" 200 10 "-" "{ua}"', "method"),
    ('66.249.66.1 - - [{t}] "GET /pricing HTTP/1.1" 200 10 "-" "' + GOOGLEBOT + '"', "bot"),
    ('66.249.66.1 - - [{t}] "GET / HTTP/1.1" 200 10 "-" "curl/8.5.0"', "bot"),
    ('66.249.66.1 - - [{t}] "GET / HTTP/1.1" 200 10 "-" "-"', "bot"),
    ("this is not a log line", "malformed"),
]


def clf(minutes: int) -> str:
    return (DAY + timedelta(hours=8, minutes=minutes)).strftime("%d/%b/%Y:%H:%M:%S +0000")


def build_log() -> str:
    lines = [
        f'{ip} - - [{clf(m)}] "GET {target} HTTP/1.1" 200 512 "{ref}" "{ua}"'
        for ip, ua, m, target, ref in PAGES
    ]
    for i, (line, _) in enumerate(NOISE):
        lines.insert(2 * i + 1, line.format(t=clf(i), ua=FIREFOX))
    return "\n".join(lines) + "\n"


def reference() -> dict[str, Any]:
    """Page views per path, visitors and visits (the 30-minute rule) from PAGES alone."""
    per_path = Counter(target.partition("?")[0] for _, _, _, target, _ in PAGES)
    times: dict[tuple[str, str], list[int]] = {}
    for ip, ua, m, *_ in PAGES:
        times.setdefault((ip, ua), []).append(m)
    visits = sum(
        1 + sum(b - a > 30 for a, b in zip(sorted(t), sorted(t)[1:])) for t in times.values()
    )
    return {
        "pages": dict(per_path),
        "visitors": len(times),
        "visits": visits,
        "skipped": dict(Counter(reason for _, reason in NOISE)),
    }


def run_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str) -> Any:
    monkeypatch.setenv("FOOTFALL_STORE_URL", settings.store_url)
    code = main(
        ["import", "access-log", *args, "--site", "shop", "--data-dir", str(settings.data_dir)]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out.strip().splitlines()[-1])


def query(settings: Settings, body: dict[str, Any]) -> list[dict[str, Any]]:
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v2/query", json={"site_id": "shop", **body}, headers=AUTH)
        assert r.status_code == 200, r.text
        return r.json()["results"]  # type: ignore[no-any-return]


@pytest.fixture
def shop(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = make_settings(tmp_path, store_url=store_url)
    key = make_shop(settings)
    monkeypatch.setenv("SHOP_KEY", key)  # for the live event below
    return settings


def test_pages_visitors_and_visits_as_the_reference_counts(
    shop: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    log = tmp_path / "access.log"
    log.write_text(build_log())
    ref = reference()
    summary = run_cli(shop, monkeypatch, capsys, str(log))
    assert summary["lines"] == len(PAGES) + len(NOISE)
    assert summary["imported"] == len(PAGES) and summary["skipped"] == ref["skipped"]
    dates = {"date_range": ["2024-03-05", "2024-03-05"]}
    total = query(shop, {"metrics": ["pageviews", "visitors", "visits"], **dates})
    assert total[0]["metrics"] == [len(PAGES), ref["visitors"], ref["visits"]]
    pages = query(shop, {"metrics": ["pageviews"], "dimensions": ["event:page"], **dates})
    assert {r["dimensions"][0]: r["metrics"][0] for r in pages} == ref["pages"]
    # Only allow-listed query parameters are kept, as live collection keeps them.
    sources = query(shop, {"metrics": ["visitors"], "dimensions": ["visit:source"], **dates})
    assert {r["dimensions"][0] for r in sources} >= {"Google"}

    # The same log again, gzipped and through stdin: nothing new.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(log.read_bytes()))))
    again = run_cli(shop, monkeypatch, capsys, "-")
    assert (again["imported"], again["already_imported"]) == (0, len(PAGES))
    assert query(shop, {"metrics": ["pageviews"], **dates})[0]["metrics"] == [len(PAGES)]

    # The log grew: only the new line is added.
    with log.open("a") as f:
        f.write(f'198.51.100.9 - - [{clf(200)}] "GET /new HTTP/1.1" 200 5 "-" "{FIREFOX}"\n')
    grown = run_cli(shop, monkeypatch, capsys, str(log))
    assert (grown["imported"], grown["already_imported"]) == (1, len(PAGES))


def test_todays_lines_hash_to_the_live_visitor(
    shop: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # Five minutes back, but never before today's first second: both hits must sit on
    # today (the salt and the "day" range), even just after midnight.
    real = datetime.now(UTC).replace(microsecond=0)
    now = max(real - timedelta(minutes=5), real.replace(hour=0, minute=0, second=0))
    log = tmp_path / "today.log"
    when = now.strftime("%d/%b/%Y:%H:%M:%S +0000")
    log.write_text(f'203.0.113.50 - - [{when}] "GET /from-log HTTP/1.1" 200 5 "-" "{SAFARI}"\n')
    run_cli(shop, monkeypatch, capsys, str(log))
    with TestClient(create_app(shop)) as client:
        shop_key = os.environ["SHOP_KEY"]
        live = {
            "event_type": "pageview",
            "path": "/live",
            "ip": "203.0.113.50",
            "user_agent": SAFARI,
            "timestamp": now.isoformat(),
        }
        r = client.post("/api/event", json=live, headers={"x-api-key": shop_key})
        assert r.status_code == 202, r.text
        assert client.app.state.services.writer.wait_idle(15)  # type: ignore[attr-defined]
        r = client.post(
            "/api/v2/query",
            json={
                "site_id": "shop",
                "metrics": ["pageviews", "visitors", "visits"],
                "date_range": "day",
            },
            headers=AUTH,
        )
        assert r.json()["results"][0]["metrics"] == [2, 1, 1]


def test_redis_shape_hands_pageviews_to_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """With FOOTFALL_QUEUE_URL=redis:// the workers drain the queue: the import appends
    the pageviews there and stores nothing itself."""
    import uuid

    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if require_services():
            pytest.fail("Redis is not reachable at 127.0.0.1:6379")
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    prefix = f"fftest-imports-{uuid.uuid4().hex[:8]}:"
    settings = make_settings(tmp_path)
    make_shop(settings)
    monkeypatch.setenv("FOOTFALL_QUEUE_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("FOOTFALL_REDIS_PREFIX", prefix)
    monkeypatch.setenv("FOOTFALL_QUEUE_PARTITIONS", "1")  # one stream: the port can count it
    log = tmp_path / "access.log"
    log.write_text(build_log())
    try:
        summary = run_cli(settings, monkeypatch, capsys, str(log))
        assert summary["queued_for_workers"] == len(PAGES) and summary["imported"] == 0
        from footfall.queue import open_queue

        queue = open_queue(
            Settings(queue_url="redis://127.0.0.1:6379/0", redis_prefix=prefix, queue_partitions=1)
        )
        try:
            assert queue.depth() == len(PAGES)  # waiting for the workers
        finally:
            queue.close_sync()
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_a_truncated_gz_file_is_one_error_line(
    shop: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """gzip ends a cut-off file with EOFError, which reached the terminal as a traceback."""
    log = tmp_path / "cut.log.gz"
    log.write_bytes(gzip.compress(build_log().encode() * 50)[:400])
    monkeypatch.setenv("FOOTFALL_STORE_URL", shop.store_url)
    code = main(["import", "access-log", str(log), "--site", "shop",
                 "--data-dir", str(shop.data_dir)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: file: {log}: Compressed file ended") and "Traceback" not in err


def test_an_import_process_leaves_pandas_unloaded(tmp_path: Path) -> None:
    # pyarrow would import pandas (0.4-0.5 CPU s) only to ask whether a list is a pandas
    # object; the import never hands it one. On request pandas still loads and converts.
    pytest.importorskip("pandas")
    settings = make_settings(tmp_path)
    make_shop(settings)
    log = tmp_path / "access.log"
    log.write_text(build_log())
    script = (
        "import sys; from footfall.cli import main; "
        f"code = main(['import', 'access-log', {str(log)!r}, '--site', 'shop', "
        f"'--data-dir', {str(settings.data_dir)!r}]); "
        "loaded = 'pandas' in sys.modules; import pyarrow as pa; "
        "frame = pa.table({'n': [1, 2]}).to_pandas(); import json; "
        "print(json.dumps([code, loaded, frame['n'].tolist()]), file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOOTFALL_")}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["imported"] == len(PAGES)
    assert json.loads(out.stderr.strip().splitlines()[-1]) == [0, False, [1, 2]]
