"""The event-store port: what the writer, the query layer and the jobs need of a backend.

A backend (DuckDB embedded, ClickHouse at scale) implements ``EventStore`` and describes
its differences in a ``Capabilities`` object, so callers never write ``if backend ==``.
The writer hands over a ``WriteBatch``: already enriched and sessionised columns, the
partial session aggregates for this batch, the drop counts, and the queue position the
batch ends at. A backend that can (DuckDB) commits all of it in one transaction, which is
what makes spool replay exactly-once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

# Columns of the events table, in order, with their Arrow types. The ClickHouse backend
# maps the same names; the query layer refers to these names only.
EVENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("event_id", pa.string()),
    ("site_id", pa.string()),
    ("ts", pa.timestamp("ms")),
    ("name", pa.string()),
    ("hostname", pa.string()),
    ("pathname", pa.string()),
    ("url_query", pa.string()),
    ("referrer", pa.string()),
    ("referrer_source", pa.string()),
    ("utm_source", pa.string()),
    ("utm_medium", pa.string()),
    ("utm_campaign", pa.string()),
    ("utm_term", pa.string()),
    ("utm_content", pa.string()),
    ("visitor_id", pa.uint64()),
    ("session_id", pa.uint64()),
    ("user_id", pa.string()),
    ("browser", pa.string()),
    ("browser_version", pa.string()),
    ("os", pa.string()),
    ("os_version", pa.string()),
    ("device", pa.string()),
    ("screen", pa.string()),
    ("language", pa.string()),
    ("country", pa.string()),
    ("region", pa.string()),
    ("city", pa.string()),
    ("title", pa.string()),
    ("entry_page", pa.string()),
    ("props", pa.map_(pa.string(), pa.string())),
    ("revenue", pa.float64()),
    ("duration_ms", pa.int64()),
    ("load_time_ms", pa.int64()),
    ("scroll_depth", pa.int64()),
    ("interactive", pa.bool_()),
)

# Visit attributes: those of the visit's first event, stamped on every event of the visit
# (Plausible's "visit:" dimensions), in this order.
VISIT_COLUMNS: tuple[str, ...] = (
    "referrer",
    "referrer_source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "screen",
    "language",
    "country",
    "region",
    "city",
)
# What a sessions row takes from its first event.
SESSION_FIRST_EVENT_COLUMNS: tuple[str, ...] = ("visitor_id", "user_id", "hostname", *VISIT_COLUMNS)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do; callers branch on these, never on the backend's name."""

    name: str
    sql_dialect: str  # the query builder's dialect key: "duckdb" or "clickhouse"
    transactional_batches: bool  # events, sessions and queue progress commit together
    single_writer_process: bool  # only one OS process may open the store for writing
    rollups: bool = False  # keeps exact reach/daily rollups (maintain_rollups, snapshot)


@dataclass(frozen=True, slots=True)
class RollupSpec:
    """What the exact rollups keep, in the query layer's own SQL (footfall/query/rollup.py
    builds it, so each dimension and metric stays defined once)."""

    kinds: Mapping[str, str]  # dimension name ('' = site total) -> SQL on events
    visit_kinds: Mapping[str, str]  # the visit dimensions among them -> SQL on sessions
    visit_sums: Mapping[str, str]  # additive visit aggregate alias -> SQL on sessions
    version: int  # stored per site; a site built by an older version is rebuilt


class Enrichment(Protocol):
    """Lookup tables for a batch's distinct values (footfall.ingest.enrich.Enricher)."""

    def user_agents(self, agents: Sequence[str]) -> pa.Table: ...

    def referrers(self, pairs: Sequence[tuple[str, str]]) -> pa.Table: ...

    def queries(self, queries: Sequence[str]) -> pa.Table: ...


@dataclass(slots=True)
class WriteBatch:
    """Everything one writer round commits: spool records (JSON lines in ``source``), the
    enrichment to apply, and the queue position the batch ends at."""

    source: Path
    enrichment: Enrichment
    session_timeout_ms: int = 30 * 60_000
    progress: tuple[int, int] | None = None


# Runs one statement and returns its rows (``EventStore.snapshot`` yields one).
QueryFn = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class EventStore(Protocol):
    capabilities: Capabilities

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write_batch(self, batch: WriteBatch) -> dict[str, int]:
        """Commit one batch atomically; counts of received, duplicates, inserted, dropped."""
        ...

    def idle(self) -> None:
        """The writer found nothing to do: a moment for deferred maintenance."""
        ...

    def read_progress(self) -> tuple[int, int] | None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def stream(
        self, sql: str, params: Sequence[Any] = (), batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """The rows of ``sql`` as Arrow batches of at most ``batch_rows``, read lazily; at
        least one batch (empty when there are no rows), so the consumer learns the columns."""
        ...

    def delete_events_before(self, cutoff: datetime, site_id: str | None = None) -> int:
        """Delete raw events (and ended visits) before ``cutoff``, of every site or only
        of ``site_id``; returns events deleted."""
        ...

    def delete_site_data(self, site_id: str) -> int:
        """Delete every row of one site (events, sessions, drop counts); events deleted."""
        ...

    def snapshot(self) -> AbstractContextManager[QueryFn]:
        """A query function whose statements all see one state of the store."""
        ...

    def maintain_rollups(self, sites: Mapping[str, str], spec: RollupSpec) -> dict[str, Any]:
        """With ``capabilities.rollups``: build and seal the exact rollups of ``sites``
        (id -> time zone) as ``spec`` describes; else nothing."""
        ...

    def interrupt_maintenance(self) -> None:
        """Shutdown: stop a running ``maintain_rollups`` as soon as possible."""
        ...

    def rollup_state(self, site_id: str) -> tuple[str, int] | None:
        """With ``capabilities.rollups``: the time zone and layout version the site's
        rollups were built for, None when they are not built."""
        ...

    def health(self) -> dict[str, Any]: ...
