"""Prometheus counters and gauges shared by the HTTP side, the pipeline and the writer.

One registry per process, exposed at ``/metrics``. Labels are low-cardinality by design
(reasons, endpoints, status codes), never site ids or paths.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

RECEIVED = Counter(
    "footfall_events_received",
    "Events received by collection endpoints.",
    ["endpoint"],
    registry=REGISTRY,
)
ACCEPTED = Counter(
    "footfall_events_accepted", "Events made durable in the queue.", registry=REGISTRY
)
DROPPED = Counter(
    "footfall_events_dropped",
    "Events dropped by a pipeline step, by reason.",
    ["reason"],
    registry=REGISTRY,
)
REJECTED = Counter(
    "footfall_requests_rejected",
    "Collection requests answered with an error.",
    ["status"],
    registry=REGISTRY,
)
QUERY_SECONDS = Histogram(
    "footfall_query_seconds",
    "Time spent answering stats queries.",
    registry=REGISTRY,
)
LOOP_LAG = Histogram(
    "footfall_event_loop_lag_seconds",
    "How late the server's event loop woke a timer due every 50 ms: while it was busy "
    "elsewhere (a long callback, a garbage collection, a starved CPU), every request in "
    "flight waited as long.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)


async def watch_loop_lag(period: float = 0.05) -> None:
    """Run until cancelled: sleep ``period``, record how late the wake-up came in
    ``LOOP_LAG``. A stall shows when it covers a wake-up, so the histogram samples stalls
    in proportion to their length; the long ones, which set the p99, are the ones seen.
    Twenty wake-ups a second cost the loop well under a millisecond of CPU."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + period
        await asyncio.sleep(period)
        LOOP_LAG.observe(max(0.0, loop.time() - due))


# Label children bound once: ``.labels()`` costs a lock and a dict lookup per call.
RECEIVED_EVENT = RECEIVED.labels("event")
RECEIVED_EVENTS = RECEIVED.labels("events")
