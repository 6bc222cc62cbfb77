"""The ClickHouse store's own tests run on both of its transports: chdb in process and
HTTP through clickhouse-connect against the stand-in."""

import time
from collections.abc import Callable
from typing import Any

import pytest

from footfall.ingest.record import ENCODER
from footfall.meta.repo import SiteInfo
from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner
from footfall.queue.writer import Writer
from footfall.store.clickhouse import rollups, visit_copy
from tests.contract.conftest import url_for
from tests.contract.test_store_writes import record


@pytest.fixture(params=["chdb", "clickhouse-http"])
def store_url(request: pytest.FixtureRequest) -> str:
    return url_for(request, request.param)


@pytest.fixture
def ripen(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Rollup rows bucketed by insert second instead of hour and no margin on dirty marks,
    so that a refresh rebuilds a day a second after it was listed (an hour and ten minutes
    in production, footfall/store/clickhouse/rollups.py) and no grace for an older
    generation of the visits' copy; returns the wait for that."""
    monkeypatch.setattr(rollups, "BUCKET_SECONDS", 1)
    monkeypatch.setattr(rollups, "MARGIN_SECONDS", 0)
    # A refresh clearing marks first publishes a new generation of the visits' copy and
    # first days (firsts.py), which waits for the one before to be GRACE_SECONDS old.
    monkeypatch.setattr(visit_copy, "GRACE_SECONDS", 0)
    return lambda: time.sleep(1.1)


def spy_on(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[bool]:
    """Patch ``module.name`` so that each call notes whether it answered (not None)."""
    used: list[bool] = []
    real = getattr(module, name)

    def spy(*a: Any, **k: Any) -> Any:
        got = real(*a, **k)
        used.append(got is not None)
        return got

    monkeypatch.setattr(module, name, spy)
    return used


def fast_and_raw(
    store: Any, site: SiteInfo, queries: list[dict[str, Any]], date_range: list[str]
) -> list[list[Any]]:
    """Each query's rows (dimensions, metrics) through the rollups, asserted equal to the
    raw path's answer."""
    fast, raw = QueryRunner(store), QueryRunner(store, rollups=False)
    out = []
    for body in queries:
        q = parse_query({**body, "site_id": site.id, "date_range": date_range})
        got = fast.run(q, site)
        assert got == raw.run(q, site), body
        out.append(sorted((tuple(r["dimensions"]), tuple(r["metrics"])) for r in got["results"]))
    return out


Event = tuple[int, int, int, str, str]  # (id, visitor, UTC ms, page, referrer)


def writing(spool: Any, store: Any) -> Callable[..., None]:
    """A function that spools ``Event`` tuples and has the writer store them all."""
    writer = Writer(spool, store, lambda s: ("s.com",))

    def write(*events: Event) -> None:
        spool.append_sync([ENCODER.encode(record(i, visitor_id=v, ts=t, pathname=p,
                                                 referrer=r)) for i, v, t, p, r in events])  # fmt: skip
        while writer.run_once():
            pass

    return write
