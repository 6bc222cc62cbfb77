"""The event-store port: what the writer, the query layer and the jobs need of a backend.

A backend (``store/duckdb/`` embedded, ``store/clickhouse/`` at scale) implements
``EventStore`` and describes its differences in a ``Capabilities`` object, so callers
never write ``if backend ==``; ``footfall.store.open_store`` picks one from the settings.

Writing: the batch steps (``footfall/ingest/batch/``: dedupe, enrich, drop, sessionise)
run on the ``BatchTarget`` a store opens for one round, and the store commits what they
wrote together with the queue position the round ends at, so replaying a round after a
crash writes nothing twice. Reading: SQL with ``?`` placeholders in the dialect the
capabilities name; each store binds the parameters its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import duckdb
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

# (column, value older Footfall versions stored, Plausible's name stored now): every
# store rewrites these in ``events`` and ``sessions`` when it opens or migrates, so a
# filter copied from a Plausible client matches old data too (footfall/ingest/useragent.py).
RENAMED_VALUES: tuple[tuple[str, str, str], ...] = (
    ("device", "desktop", "Desktop"), ("device", "mobile", "Mobile"),
    ("device", "tablet", "Tablet"), ("os", "macOS", "Mac"),
)  # fmt: skip

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


class StoreBusy(Exception):
    """The store cannot answer a read now for want of a resource it shares (memory held
    by a rollups build, say) and may later: HTTP answers 503 with ``Retry-After``."""

    SHORT_OF_MEMORY = "the store is short of memory for this query; try again"

    def __init__(self, reason: str = SHORT_OF_MEMORY, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do; callers branch on these, never on the backend's name."""

    name: str
    sql_dialect: str  # the query builder's dialect key: "duckdb" or "clickhouse"
    # Only one OS process may open the store for writing: `footfall worker` refuses it.
    single_writer_process: bool
    rollups: bool = False  # keeps exact reach/daily rollups (maintain_rollups, snapshot)
    # Keeps exact per-UTC-day rollups filled on insert: ``visitor_days`` (one row per
    # kept dimension value, visitor and day, with its pageview and event counts),
    # ``visit_days`` (one row per visitor, day and kept visit values) and the days to
    # read raw, ``rollup_dirty`` (footfall/query/daily.py reads them).
    daily_rollups: bool = False
    # Keeps exact per-UTC-hour rollups filled on insert with the daily ones:
    # ``visitor_hours`` (one row per visitor and hour, with its pageview and event counts),
    # so a zone whole hours from UTC gets its local days from them (footfall/query/hourly.py).
    hourly_rollups: bool = False
    # Keeps ``visit_starts``, a copy of the visits ordered by start time as of the newest
    # gate in ``visit_gates``, built with the daily rollups (footfall/query/visits.py).
    visit_copy: bool = False
    # Keeps ``first_days``/``first_counts``, each visitor's days per kept dimension value
    # with the days seen before and after, written with each generation of the visits'
    # copy (footfall/query/daily.py ``firsts_statement``).
    first_days: bool = False
    # Keeps ``events_by_source``, the columns of a filtered top-stats row for every event
    # ordered by (site, source, time), exact at every moment (a view fills it, every
    # delete of events runs on it too): a source filter reads its source's rows only
    # (footfall/query/by_source.py).
    events_by_source: bool = False
    # Most events a writer round stores when FOOTFALL_BATCH_SIZE leaves it to the store. A
    # round pays once for the stored visits it touches and for its inserts: ClickHouse
    # favours fewer, larger inserts; DuckDB's rounds stay smaller to bound the embedded
    # server's memory during a backlog.
    round_size: int = 150_000


DayNumberFn = Callable[[str, ZoneInfo, datetime, datetime], tuple[str, list[Any]]]


@dataclass(frozen=True, slots=True)
class RollupSpec:
    """What the exact rollups keep, in the query layer's own SQL (footfall/query/rollup.py
    builds it, so each dimension and metric stays defined once)."""

    kinds: Mapping[str, str]  # dimension name ('' = site total) -> SQL on events
    visit_kinds: Mapping[str, str]  # the visit dimensions among them -> SQL on sessions
    visit_sums: Mapping[str, str]  # additive visit aggregate alias -> SQL on sessions
    version: int  # stored per site; a site built by an older version is rebuilt
    # The site-local day number (days since 1970-01-01) of a naive-UTC column whose values
    # lie in [lo, hi], as SQL and its parameters: the query layer's definition of a day.
    day_number: DayNumberFn
    # The daily rollups (``Capabilities.daily_rollups``): the dimensions kept ('' = site
    # total) -> SQL on events, and their layout version (a change rebuilds them).
    daily_kinds: Mapping[str, str] = field(default_factory=dict)
    daily_version: int = 0
    # The visit dimensions kept side by side in one row per visitor, day and combination
    # of their values (``visit_days``, column ``c<i>`` for the i-th): dimension -> SQL on
    # events. Their values are the visit's, so a visitor's day is about one row.
    daily_columns: Mapping[str, str] = field(default_factory=dict)


class Enrichment(Protocol):
    """Lookup tables for a batch's distinct values (footfall.ingest.enrich.Enricher)."""

    def user_agents(self, agents: Sequence[str]) -> pa.Table: ...

    def referrers(self, pairs: Sequence[tuple[str, str]]) -> pa.Table: ...

    def queries(self, queries: Sequence[str]) -> pa.Table: ...


@dataclass(frozen=True, slots=True)
class Shares:
    """One round carrying the batches of several queue partitions (``footfall worker``):
    the position each partition's batch ends at, and which visitors' rows go with which.

    Share ``i`` is queue partition ``partitions[i]``, its batch ending at ``progress[i]``
    (shares in increasing position). ``visitors`` has the columns ``site_id`` (string),
    ``visitor_id`` (uint64) and ``share`` (an index into the two). Partitions split
    visitors, so each visitor's rows belong to one partition; a store that cannot commit a
    round atomically commits each partition's rows with that partition's position, exactly
    as a round of that partition alone would, so a partition's batch replayed alone (by
    another worker, after a crash) is recognised. A visitor missing from ``visitors``
    goes with the last share.
    """

    partitions: tuple[int, ...]
    progress: tuple[tuple[int, int], ...]
    visitors: pa.Table


@dataclass(slots=True)
class WriteBatch:
    """Everything one writer round commits: spool records (JSON lines in ``source``), the
    enrichment to apply, the queue position the batch ends at and the queue partition it
    was read from (0: the spool, or a queue of one partition); with ``shares``, a round
    over several partitions (``progress`` the greatest of their positions)."""

    source: Path
    enrichment: Enrichment
    session_timeout_ms: int = 30 * 60_000
    progress: tuple[int, int] | None = None
    partition: int = 0
    shares: Shares | None = None
    fence: Callable[[], None] | None = None  # see EventStore.begin_batch


@dataclass(frozen=True, slots=True)
class EventPieces:
    """A round's new events in pieces (the batch steps, step 6): ``own``, a query on the
    target's cursor of each event's own columns and ``rid``; ``visits``, a query of one
    row per visit group: ``grp``, ``site_id`` and the values its events carry (the visit
    columns, ``visitor_id``, ``session_id``, ``entry_page``); ``items``, Arrow rows whose
    ``rid`` and ``grp`` link the two (``rid`` null where a row is no event). Joined, they
    are exactly the rows of the query ``BatchTarget.insert_events`` is given."""

    own: str
    visits: str
    items: pa.Table


class BatchTarget(Protocol):
    """Where one round's batch steps run: ``cur`` is a DuckDB cursor (the batch engine)
    whose ``events``, ``sessions``, ``dropped_events`` and ``rollup_pending`` tables the
    steps read and write. A store whose engine is DuckDB gives its own tables in a
    transaction; another gives a scratch copy and loads stored rows on request."""

    cur: duckdb.DuckDBPyConnection

    def neighbours(self, lo: datetime, hi: datetime, since: datetime) -> None:
        """Make visible the stored events with the batch's event ids (in ``_in``) between
        ``lo`` and ``hi``, and the stored visits of its visitors ending at or after
        ``since`` or carrying one of its client session ids."""
        ...

    def touch_visits(self, visits_sql: str) -> None:
        """Make visible the stored events of the visits ``visits_sql`` selects
        (``site_id, session_id`` rows), before the steps update them."""
        ...

    def insert_events(self, select: str, pieces: EventPieces | None = None) -> int:
        """Write the batch's new events, the rows of the query ``select`` on ``cur`` (the
        ``events`` columns, final: no later step changes them); returns how many. The
        batch steps also give the same rows in ``pieces``, which a target may join itself."""
        ...

    def insert_visits(self, select: str) -> None:
        """Write the visits' new ``sessions`` rows, the rows of the query ``select`` (the
        steps have deleted the rows they replace)."""
        ...


# Runs one statement and returns its rows (``EventStore.snapshot`` yields one).
QueryFn = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class EventStore(Protocol):
    capabilities: Capabilities

    def open(self) -> None: ...

    def close(self) -> None: ...

    def migrate(self) -> list[int]:
        """Bring the schema up to date (idempotent; ``open`` does it too); the versions
        applied now."""
        ...

    def begin_batch(
        self,
        progress: tuple[int, int] | None,
        partition: int = 0,
        shares: Shares | None = None,
        fence: Callable[[], None] | None = None,
    ) -> AbstractContextManager[BatchTarget]:
        """A target for one round's batch steps; leaving the block without an error
        commits what they wrote with the queue position ``progress`` of queue partition
        ``partition``, exactly once. Each partition has one writer at a time; a replay of
        the partition's batch at or before its committed position writes nothing. With
        ``shares`` (then ``partition`` is unused), each share is committed so, as if alone
        (see :class:`Shares`). ``fence`` (a worker's partition leases) is called before
        the store touches stored rows of the round's partitions and again just before
        the commit; when it raises, the round leaves nothing and commits nothing."""
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

    def delete_events_before(
        self, cutoff: datetime, site_id: str | None = None, *, with_sessions: bool = True
    ) -> int:
        """Delete raw events (and, ``with_sessions``, visits that ended) before ``cutoff``,
        of every site or only of ``site_id``, in batches; returns events deleted."""
        ...

    def delete_sessions_before(self, cutoff: datetime, site_id: str) -> int:
        """Delete one site's visits that ended before ``cutoff``; returns visits deleted."""
        ...

    def delete_rollups_before(self, day: date, site_id: str) -> int:
        """With ``capabilities.rollups``: delete one site's rollup rows of site-local days
        before ``day``; returns rows deleted (else 0)."""
        ...

    def delete_person(
        self, site_id: str, column: str, value: str | int, spec: RollupSpec
    ) -> dict[str, int]:
        """Delete every visit holding an event whose ``column`` (``user_id`` or
        ``visitor_id``) is ``value``, and mend every rollup that counted them (``spec``:
        what they keep), so every report then equals one of data that never had those
        visits. Returns the rows deleted: ``events``, ``sessions``, ``rollup_rows``."""
        ...

    def delete_site_data(self, site_id: str) -> int:
        """Delete every row of one site (events, sessions, drop counts, imported
        aggregates); events deleted."""
        ...

    def write_imported(self, site_id: str, import_id: str, rows: pa.Table) -> int:
        """Replace the imported aggregates of ``site_id`` from import ``import_id`` with
        ``rows`` (columns of ``footfall.store.imported.IMPORTED_SCHEMA``); rows written."""
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

    def fold_rounds(self, spec: RollupSpec, timezone_of: Callable[[str], str | None],
                    waiting: Callable[[tuple[int, int]], int]) -> None:  # fmt: skip
        """With ``capabilities.rollups``: fold writer rounds into the rollups as ``spec``
        describes, in the round's transaction, so the dashboard reads them as soon as the
        events are visible; ``timezone_of`` gives a site's time zone (None: unknown),
        ``waiting`` how many records the queue holds after a position (a round's
        progress). Else nothing."""
        ...

    def building_rollups(self) -> bool:
        """Whether a rollups build runs now, which the store's queries make way for (the
        dashboard says its panels may be slow meanwhile)."""
        ...

    def rollup_state(self, site_id: str) -> tuple[str, int] | None:
        """With ``capabilities.rollups``: the time zone and layout version the site's
        rollups were built for, None when they are not built."""
        ...

    def health(self) -> dict[str, Any]: ...

    def site_activity(self, site_id: str, drops_since: datetime) -> SiteActivity:
        """Whether events arrive for ``site_id``: events stored, the newest one's time, and
        the writer's drop counts (bots, referrer spam) of the UTC hours from
        ``drops_since`` on (``store/<backend>/siteops.py``)."""
        ...

    def property_keys(self, site_id: str, event: str, limit: int = 50) -> list[str]:
        """The property names events called ``event`` carried, most used first (ties by
        name), at most ``limit``: what the dashboard offers to break the event down by."""
        ...


@dataclass(frozen=True, slots=True)
class SiteActivity:
    """What ``EventStore.site_activity`` finds of one site (the "verify installation"
    check): its stored events, the newest one's naive-UTC time (None without events), and
    the events the writer dropped, by reason."""

    events: int
    last_event: datetime | None
    drops: dict[str, int] = field(default_factory=dict)
