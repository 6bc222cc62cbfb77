"""Helpers of the worker tests: a store on each backend, records, and the 30-minute rule written out in plain Python as the reference."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from footfall.config import Settings
from footfall.ingest.record import SpoolRecord
from footfall.store import open_store
from footfall.store.base import EventStore
from tests.conftest import _chdb_available, chdb_url, require_services

TIMEOUT_MS = 30 * 60_000


def _need_chdb() -> None:
    if not _chdb_available():
        reason = "chdb/clickhouse-connect not installed (pip install -e '.[dev]')"
        if require_services():
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(params=["duckdb", "chdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    url = "" if request.param == "duckdb" else chdb_url("worker")
    if url:
        _need_chdb()
    s = open_store(Settings(data_dir=tmp_path / "data", store_url=url))
    yield s
    s.close()


@pytest.fixture
def chdb_store(tmp_path: Path) -> Iterator[EventStore]:
    """The ClickHouse store alone (its replays are the subtle ones: no transactions)."""
    _need_chdb()
    s = open_store(Settings(data_dir=tmp_path / "data", store_url=chdb_url("worker")))
    yield s
    s.close()


def expected_visits(records: Iterable[SpoolRecord]) -> int:
    """Visits by the 30-minute rule: per site and visitor, a new visit after a gap."""
    times: dict[tuple[str, int], list[int]] = {}
    for r in records:
        times.setdefault((r.site_id, r.visitor_id), []).append(r.ts)
    n = 0
    for ts in times.values():
        ts.sort()
        n += 1 + sum(1 for a, b in zip(ts, ts[1:], strict=False) if b - a > TIMEOUT_MS)
    return n


def stored(store: EventStore) -> tuple[int, int, int, int]:
    """Events, distinct event ids, visits, and the visits' pageviews in the store."""
    ((n, distinct),) = store.query("SELECT count(*), count(DISTINCT event_id) FROM events")
    ((visits, pageviews),) = store.query("SELECT count(*), sum(pageviews) FROM sessions")
    return int(n), int(distinct), int(visits), int(pageviews or 0)
