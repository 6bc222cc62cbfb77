"""``/metrics`` shows how long the server's event loop was stalled: while it is, no request
is answered, so operators need to see it when latency spikes (a garbage collection, a
blocking call, a starved CPU)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from starlette.testclient import TestClient

from footfall.app import create_app
from tests.conftest import make_settings


def lag_buckets(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    pattern = r'footfall_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)'
    return {le: float(n) for le, n in re.findall(pattern, text)}


def test_a_stalled_event_loop_shows_in_metrics(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        time.sleep(0.6)  # the watcher has woken (on time) at least once
        before = lag_buckets(client)
        assert before["+Inf"] >= 1
        # Block the server's event loop for a second, as a stuck handler would: the
        # watcher's next wake-up (due every 50 ms) comes 0.95-1 s late.
        client.portal.call(time.sleep, 1.0)  # type: ignore[union-attr]
        time.sleep(0.1)
        after = lag_buckets(client)
    long_stalls = (after["1.0"] - after["0.25"]) - (before["1.0"] - before["0.25"])
    assert long_stalls >= 1
