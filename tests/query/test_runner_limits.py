"""QueryRunner's concurrency limit: a dashboard's burst of queries takes at most
``concurrency`` cores from ingestion; the rest wait their turn and still answer."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner
from tests.conftest import Footfall


def in_flight_peak(ff: Footfall, concurrency: int) -> tuple[int, list[Any]]:
    store = ff.services.store
    runner = QueryRunner(store, concurrency=concurrency)
    site = ff.services.meta.get_site(ff.site_id)
    lock, now, peak = threading.Lock(), [0], [0]
    real = store.query

    def slow_query(sql: str, params: Any = ()) -> Any:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        try:
            time.sleep(0.02)  # long enough for the other threads to arrive
            return real(sql, params)
        finally:
            with lock:
                now[0] -= 1

    store.query = slow_query  # type: ignore[method-assign]
    q = parse_query({"site_id": ff.site_id, "metrics": ["visitors"], "date_range": "7d"})
    try:
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda _: runner.run(q, site), range(6)))  # type: ignore[arg-type]
    finally:
        store.query = real  # type: ignore[method-assign]
    return peak[0], results


@pytest.mark.parametrize("limit", [1, 2])
def test_queries_beyond_the_limit_wait_their_turn(footfall: Footfall, limit: int) -> None:
    assert footfall.send({"event_type": "pageview", "path": "/"}).status_code == 202
    footfall.flush()
    peak, results = in_flight_peak(footfall, limit)
    assert peak == limit
    assert all(r["results"][0]["metrics"] == [1] for r in results)


def test_no_limit_lets_them_overlap(footfall: Footfall) -> None:
    peak, _ = in_flight_peak(footfall, 0)
    assert peak > 2
