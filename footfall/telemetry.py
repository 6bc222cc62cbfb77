"""Prometheus counters and gauges shared by the HTTP side, the pipeline and the writer.

One registry per process, exposed at ``/metrics``. Labels are low-cardinality by design
(reasons, endpoints, status codes), never site ids or paths.
"""

from __future__ import annotations

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

# Label children bound once: ``.labels()`` costs a lock and a dict lookup per call.
RECEIVED_EVENT = RECEIVED.labels("event")
RECEIVED_EVENTS = RECEIVED.labels("events")
