"""The access-log import's reader process: a generated two-day log imported with the file
parsed in a forked reader process stores exactly the events (ids from file and line,
visitor ids from that day's salt, visits) and skip counts of the in-process reader, and
the same log gzipped adds nothing."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from footfall.cli import main
from footfall.config import Settings
from footfall.imports.accesslog import reader, run
from footfall.meta.repo import Metadata
from tests.conftest import make_settings

AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]


def build_log(path: Path, lines: int) -> None:
    rnd = random.Random(23)
    start = datetime(2024, 3, 5, 20, tzinfo=UTC)  # the log crosses midnight: two salts
    with path.open("w") as out:
        for i in range(lines):
            when = (start + timedelta(seconds=i * 20)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            ip = f"198.51.100.{rnd.randrange(1, 40)}"
            target = rnd.choice(["/", "/pricing", "/a.css", "/blog/x.html", "/q?utm_source=n"])
            status = rnd.choice([200, 200, 200, 404])
            method = rnd.choice(["GET", "GET", "GET", "POST"])
            out.write(f'{ip} - - [{when}] "{method} {target} HTTP/1.1" {status} 9 "-" '
                      f'"{rnd.choice(AGENTS)}"\n')  # fmt: skip
        out.write("not a log line\n")


def site(tmp_path: Path, name: str) -> Settings:
    """A data directory (store, spool) of its own; the metadata, and so the salts, shared."""
    shared = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    settings = make_settings(tmp_path / name, store_url="duckdb://", database_url=shared)
    settings.data_dir.mkdir(parents=True)
    meta = Metadata(settings.metadata_url)
    meta.migrate()
    if meta.get_site("shop") is None:
        meta.create_site("Shop", ["shop.example"], "UTC")
    meta.close()
    return settings


def import_and_read(settings: Settings, log: Path, capsys: Any) -> tuple[Any, list[Any]]:
    code = main(["import", "access-log", str(log), "--site", "shop",
                 "--data-dir", str(settings.data_dir)])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    summary = json.loads(out.out.strip().splitlines()[-1])
    with duckdb.connect(str(settings.store_path), read_only=True) as db:
        events = db.execute(
            "SELECT event_id, visitor_id, session_id, ts, pathname, url_query FROM events "
            "ORDER BY event_id"
        ).fetchall()
    return summary, events


@pytest.mark.slow
def test_reader_process_stores_what_the_in_process_reader_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    log = tmp_path / "access.log"
    build_log(log, 1200)
    monkeypatch.delenv("FOOTFALL_STORE_URL", raising=False)
    monkeypatch.setenv("FOOTFALL_DATABASE_URL", f"sqlite:///{tmp_path / 'meta.sqlite3'}")
    monkeypatch.setattr(run, "PARALLEL_BYTES", 1 << 40)
    here, here_events = import_and_read(site(tmp_path, "here"), log, capsys)
    monkeypatch.setattr(run, "PARALLEL_BYTES", 0)
    # A small piece size: many messages from the reader, and rounds cut mid-stream.
    monkeypatch.setattr(reader, "PIECE", 256)
    monkeypatch.setattr(run, "CHUNK", 150)
    forked_site = site(tmp_path, "forked")
    forked, forked_events = import_and_read(forked_site, log, capsys)

    assert forked["lines"] == here["lines"] == 1201
    assert forked["skipped"] == here["skipped"] and forked["skipped"]["malformed"] == 1
    assert forked["imported"] == here["imported"] == len(here_events) > 300
    assert forked_events == here_events
    assert len({e[1] for e in here_events}) > 40  # IP x agent, and a second day's salt
    # Idempotent through the reader process too, the same log gzipped included.
    gz = tmp_path / "access.log.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    again, _ = import_and_read(forked_site, gz, capsys)
    assert (again["imported"], again["already_imported"]) == (0, here["imported"])
