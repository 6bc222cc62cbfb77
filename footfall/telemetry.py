"""Prometheus counters and gauges shared by the HTTP side, the pipeline and the writer.

One registry per process, exposed at ``/metrics``. Labels are low-cardinality by design
(reasons, endpoints, status codes), never site ids or paths. The request path counts into
the counters below; the queue's and the writer's figures (depth, lag, rounds) are read
when ``/metrics`` is scraped, from the running server (``watch``), so nothing on the hot
path updates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from footfall import __version__

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


class LoopTally:
    """A count kept on the event loop's thread without a lock, added to its counter when
    ``/metrics`` is scraped (:func:`flush_tallies`, called by that handler on the same
    thread, so no increment can be lost between the two). prometheus_client's ``inc`` takes
    a lock and runs several Python calls: about 4% of the loop's time per single event
    (py-spy). Only for counts made on the loop (the collection handlers)."""

    __slots__ = ("counter", "n")

    def __init__(self, counter: Counter) -> None:
        self.counter, self.n = counter, 0

    def inc(self, amount: int = 1) -> None:
        self.n += amount

    def flush(self) -> None:
        if self.n:
            n, self.n = self.n, 0
            self.counter.inc(n)


_tallies: list[LoopTally] = []


def tally(counter: Counter) -> LoopTally:
    found = LoopTally(counter)
    _tallies.append(found)
    return found


def flush_tallies() -> None:
    """Move the loop's tallies into their counters (before ``/metrics`` is rendered)."""
    for t in _tallies:
        t.flush()


# The collection endpoints' counts, bound once (``.labels()`` costs a lock and a lookup).
RECEIVED_EVENT = tally(RECEIVED.labels("event"))
RECEIVED_EVENTS = tally(RECEIVED.labels("events"))
ACCEPTED_ON_LOOP = tally(ACCEPTED)

# Read at scrape time: name (after "footfall_") -> help. The writer's are counters
# (Prometheus adds "_total"); the rest are gauges.
SERVER_GAUGES = {
    "queue_depth_events": "Durable events in the spool not yet in the store (the writer's lag).",
    "queue_bytes": "Bytes of durable records in the spool's segment files.",
    "writer_last_batch_seconds": "How long the writer's last round took.",
    "writer_seconds_since_last_batch": "Seconds since the writer's last round (NaN before one).",
}
SERVER_COUNTERS = {
    "writer_events_written": "Events the writer inserted into the store.",
    "writer_duplicates_skipped": "Events skipped as already stored (client retries, replays).",
    "writer_dropped": "Events the writer dropped (bots, referrer spam); also in events_dropped.",
    "writer_batches": "Writer rounds committed.",
    "writer_errors": "Writer rounds that failed (their events stay queued and are retried).",
}
_watched: list[Callable[[], Mapping[str, float]]] = []

# Events dropped on the request path, by reason: plain integers added on the event loop's
# thread (see LoopTally for why not a Counter), read at scrape time.
_drops: dict[str, int] = {}
# The reason under which the writer's drops are shown: the store reports their total
# only (its dropped_events table has the split, per site and hour).
WRITER_DROP_REASON = "bot_or_referrer_spam"


def count_drop(reason: str, n: int = 1) -> None:
    """Count ``n`` events dropped on the request path (event loop thread only)."""
    _drops[reason] = _drops.get(reason, 0) + n


def _dropped(values: Mapping[str, float] | None) -> CounterMetricFamily:
    """Every dropped event by reason, request path and writer, in one family."""
    family = CounterMetricFamily(
        "footfall_events_dropped",
        "Events accepted but not stored, by reason: hostname (page host not among the "
        "site's domains), dnt, excluded_ip, excluded_path, unknown_site (Plausible domain), "
        f"{WRITER_DROP_REASON} (the writer's filters).",
        labels=["reason"],
    )
    counts: dict[str, float] = dict(_drops)
    if values is not None:
        counts[WRITER_DROP_REASON] = values["writer_dropped"]
    for reason, n in sorted(counts.items()):
        family.add_metric([reason], n)
    return family


class _ServerState(Collector):
    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("footfall_build_info", "Footfall's version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        values = _watched[-1]() if _watched else None
        yield _dropped(values)
        if values is None:
            return
        for name, doc in SERVER_GAUGES.items():
            yield GaugeMetricFamily(f"footfall_{name}", doc, value=values[name])
        for name, doc in SERVER_COUNTERS.items():
            yield CounterMetricFamily(f"footfall_{name}", doc, value=values[name])


REGISTRY.register(_ServerState())


def watch(state: Callable[[], Mapping[str, float]]) -> None:
    """Make ``state`` (every name of SERVER_GAUGES and SERVER_COUNTERS) the source of the
    server's figures at ``/metrics`` (the latest started server's, in tests running two)."""
    _watched.append(state)


def unwatch(state: Callable[[], Mapping[str, float]]) -> None:
    """The server stopped: its figures leave ``/metrics``."""
    if state in _watched:
        _watched.remove(state)
