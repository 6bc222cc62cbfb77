"""The event-store port: what the writer, the query layer and the jobs need of a backend.

A backend (DuckDB embedded, ClickHouse at scale) implements ``EventStore`` and describes
its differences in a ``Capabilities`` object, so callers never write ``if backend ==``.
The writer hands over a ``WriteBatch``: already enriched and sessionised columns, the
partial session aggregates for this batch, the drop counts, and the queue position the
batch ends at. A backend that can (DuckDB) commits all of it in one transaction, which is
what makes spool replay exactly-once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
EVENTS_SCHEMA = pa.schema([pa.field(n, t) for n, t in EVENT_COLUMNS])

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


@dataclass(slots=True)
class WriteBatch:
    """Everything one writer round commits."""

    events: pa.Table  # EVENTS_SCHEMA
    # (site_id, dropped_session_id, kept_session_id): sessions joined by a late event.
    session_merges: list[tuple[str, int, int]] = field(default_factory=list)
    # (site_id, UTC hour as epoch ms, reason) -> events dropped by enrichment (bots, spam).
    drops: dict[tuple[str, int, str], int] = field(default_factory=dict)
    progress: tuple[int, int] | None = None  # queue position after this batch
    # (site_id, session_id): stored visits whose first event or entry page changed, so
    # their events' stamped visit attributes must be rewritten from the sessions row.
    restamp: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SessionSpan:
    """A visit's bounds, as the writer needs them to place new events."""

    site_id: str
    visitor_id: int
    session_id: int
    start_ms: int
    end_ms: int
    attrs: tuple[str, ...]  # VISIT_COLUMNS values
    entry_page: str | None
    entry_ts_ms: int | None


class EventStore(Protocol):
    capabilities: Capabilities

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write_batch(self, batch: WriteBatch) -> None: ...

    def read_progress(self) -> tuple[int, int] | None: ...

    def existing_event_ids(self, ids: Sequence[str], lo_ms: int, hi_ms: int) -> set[str]: ...

    def sessions_for_visitors(
        self, keys: Sequence[tuple[str, int]], since_ms: int
    ) -> list[SessionSpan]: ...

    def sessions_by_id(self, keys: Sequence[tuple[str, int]]) -> list[SessionSpan]: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def delete_events_before(self, cutoff: datetime, batch_rows: int = 500_000) -> int: ...

    def health(self) -> dict[str, Any]: ...
