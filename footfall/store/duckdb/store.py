"""Embedded event store on DuckDB: one file in the data directory, Arrow batch inserts.

Writes come from one writer thread; queries from any thread, each on its own cursor
(DuckDB connections are not shared across threads, cursors are cheap). A batch's events,
its session merges, drop counts and the queue position commit in one transaction, so a
crash between batches replays the spool exactly once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from footfall.store import imported
from footfall.store.base import (
    Capabilities,
    EventPieces,
    QueryFn,
    RollupSpec,
    Shares,
    SiteActivity,
    StoreBusy,
)
from footfall.store.duckdb import compact as duckdb_compact
from footfall.store.duckdb import connect, forget, pressure, retention, siteops, sizing, streams
from footfall.store.duckdb import rollups_run as duckdb_rollups_run
from footfall.store.duckdb.gate import ReadGate
from footfall.store.duckdb.priority import BuildPriority
from footfall.store.duckdb.revive import FATAL, REOPENING, Reviver
from footfall.store.duckdb.rollups_fold import RoundFolder

CAPABILITIES = Capabilities(
    name="duckdb",
    sql_dialect="duckdb",
    single_writer_process=True,
    rollups=True,
)


class _InPlace:
    """``BatchTarget`` on the store's own tables: every stored row is already visible."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cur = cur

    def neighbours(self, lo: datetime, hi: datetime, since: datetime) -> None:
        pass

    def touch_visits(self, visits_sql: str) -> None:
        pass

    def insert_events(self, select: str, pieces: EventPieces | None = None) -> int:
        return int(self.cur.execute(f"INSERT INTO events BY NAME {select}").fetchall()[0][0])

    def insert_visits(self, select: str) -> None:
        self.cur.execute(f"INSERT INTO sessions BY NAME {select}")


class DuckDBStore:
    """``EventStore`` on a DuckDB file (or ``:memory:`` for tests)."""

    capabilities = CAPABILITIES

    def __init__(self, path: Path | str, *, threads: int = 0, memory_limit: str = "") -> None:
        self.path = str(path)
        self.threads, self.memory_limit = threads, memory_limit
        self._con: duckdb.DuckDBPyConnection | None = None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        # Rollup maintenance and site deletion both rewrite a site's rollup rows; DuckDB
        # would abort one of two such transactions, so they take turns.
        self._rollup_lock = threading.Lock()
        self._maintaining: duckdb.DuckDBPyConnection | None = None
        self._closing = False
        self._rollup_states: dict[str, tuple[str, int]] | None = None  # rollup_state()
        self._gate = ReadGate()  # queries against the one swap of a compaction
        self._priority = BuildPriority()  # queries one at a time while a build runs
        self._reviver = Reviver(self)  # the database reopened after a fatal error
        self._folder = RoundFolder(self._rollup_lock)  # writer rounds sealed into the rollups

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # What a compaction stopped before its swap left (compact.py); the file is whole.
            Path(f"{self.path}.compact").unlink(missing_ok=True)
            Path(f"{self.path}.compact.wal").unlink(missing_ok=True)
        self._con = connect.open_database(self.path, self.threads, self.memory_limit)
        self._dirty = False
        self._rollup_states = None

    def migrate(self) -> list[int]:
        """The DuckDB schema is applied at ``open`` (CREATE ... IF NOT EXISTS, ADD COLUMN
        IF NOT EXISTS): nothing is versioned, so nothing is listed."""
        return []

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("store is not open")
        return self._con

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # One cursor per thread: DuckDB connections must not be used by two threads at once.
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None or getattr(self._local, "owner", None) is not self._con:
            cur = self.con.cursor()
            self._local.cur = cur
            self._local.owner = self._con
        return cur

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def begin_batch(
        self,
        progress: tuple[int, int] | None,
        partition: int = 0,
        shares: Shares | None = None,
        fence: Callable[[], None] | None = None,
    ) -> Iterator[_InPlace]:
        """The batch steps run on the store's own tables in one transaction, which also
        records the queue position: a crash before COMMIT leaves nothing of the round.
        (``partition`` and ``shares`` need nothing here: one process writes, all or
        nothing.)"""
        # Not `SET threads = 1` around the round, though the writer's CPU per event is
        # 12-25% lower on one thread: the setting is the database's, and switching it while
        # another cursor's query ran left that query waiting forever (DuckDB 2.0; the
        # rollups job, found hung at shutdown).
        started = False
        with self._reviving(), self._write_lock, self._transaction() as cur:
            yield _InPlace(cur)
            started = self._folder.fold(cur, progress)
            if fence is not None:
                fence()  # raises: the transaction rolls back, nothing of the round stays
            if progress is not None:
                # An UPDATE of the one row costs a third of an upsert (which checks the key).
                sql = 'UPDATE writer_progress SET segment = ?, "offset" = ? WHERE id = 1'
                if not cur.execute(sql, list(progress)).fetchall()[0][0]:
                    cur.execute("INSERT INTO writer_progress VALUES (1, ?, ?)", list(progress))
        if started:
            self._rollup_states = None  # read again: a site's rollups began in the round
        self._dirty = True

    def idle(self) -> None:
        """Called by the writer when the queue is empty: fold the WAL into the file."""
        # A checkpoint fails while another write transaction is open; the rollups job's
        # can last minutes (a first build), so wait for it rather than fail every round.
        if self._dirty and not self._rollup_lock.locked():
            with self._reviving(), self._write_lock:
                self._cursor().execute("CHECKPOINT").fetchall()
            self._dirty = False

    @contextmanager
    def _maintenance_step(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction of the rollups job, with a checkpoint before and after it once the
        WAL reaches ``sizing.CHECKPOINT_BYTES``. No checkpoint, DuckDB's own or ``idle``'s,
        can run while one of the job's transactions is open ("other write transactions
        active"), and the writer goes on appending: beside a bulk load the WAL grew to 380
        MB and the rows it held back spilled 960 MB to ``<file>.tmp``. Between two of the
        job's transactions, and between two of the writer's rounds, one can."""
        # A build's steps run alone, the store's queries between them (priority.py).
        with self._priority.step() if self._priority.active else nullcontext():
            self._checkpoint_if_wal_large()
            with self._transaction() as cur:
                yield cur
            self._checkpoint_if_wal_large()

    def _checkpoint_if_wal_large(self) -> None:
        try:
            wal = Path(f"{self.path}.wal").stat().st_size
        except OSError:  # none since the last checkpoint, or ":memory:"
            return
        if wal >= sizing.CHECKPOINT_BYTES:
            self._checkpoint()

    def _checkpoint(self) -> None:
        with self._reviving(), self._write_lock:
            self._cursor().execute("CHECKPOINT").fetchall()
        self._dirty = False

    @contextmanager
    def _reviving(self) -> Iterator[None]:
        """Around a write: a fatal error reopens the database (revive.py), then goes on
        to the caller, whose work is tried again from the queue or by the job's next run.
        Outside the read gate and the locks, which the reopening waits on."""
        seen = self._con
        try:
            yield
        except FATAL as exc:
            self._reviver.reopen(seen, exc)
            raise

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def read_progress(self) -> tuple[int, int] | None:
        rows = self._small_read('SELECT segment, "offset" FROM writer_progress')
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    # -- reading and maintenance -----------------------------------------------------------

    def _small_read(self, sql: str) -> list[tuple[Any, ...]]:
        """A read that waits for nothing but a compaction's swap (health, the writer's
        progress, the rollup states: never behind a build), run again after a reopening."""

        def read() -> list[tuple[Any, ...]]:
            with self._gate.reading():
                return self._cursor().execute(sql).fetchall()

        return self._reviver.read(read)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def read() -> list[tuple[Any, ...]]:
            with self._priority.reading(), self._gate.reading():
                return self._cursor().execute(sql, list(params)).fetchall()

        return self._reviver.read(lambda: pressure.retrying(read))

    @contextmanager
    def snapshot(self) -> Iterator[QueryFn]:
        """A query function whose statements all read one state of the store (one
        read transaction), for answers assembled from several statements. After a fatal
        error the database is reopened and the answer is ``StoreBusy`` (its statements
        cannot be run again from here)."""
        try:
            with (
                self._reviving(),
                self._priority.reading(),
                self._gate.reading(),
                self._transaction() as cur,
            ):

                def run(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                    return pressure.busy_on_oom(lambda: cur.execute(sql, list(params)).fetchall())

                yield run
        except FATAL as exc:
            raise StoreBusy(REOPENING) from exc

    def stream(
        self, sql: str, params: Sequence[Any] = (), batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """Arrow batches read lazily, on a cursor of its own: the consumer (a streaming HTTP
        response) may pull each batch from a different thread."""
        with self._gate.reading(local=False):
            yield from streams.batches(self.con, sql, params, batch_rows)

    def delete_events_before(
        self, cutoff: datetime, site_id: str | None = None, *, with_sessions: bool = True
    ) -> int:
        """Delete raw events (and, ``with_sessions``, visits that ended) before ``cutoff``,
        a day at a time; with ``site_id``, only that site's (retention.py)."""
        return retention.delete_events_before(self, cutoff, site_id, with_sessions)

    def delete_sessions_before(self, cutoff: datetime, site_id: str) -> int:
        return retention.delete_sessions_before(self, cutoff, site_id)

    def delete_rollups_before(self, day: date, site_id: str) -> int:
        with self._rollup_lock, self._write_lock, self._transaction() as cur:
            return forget.delete_rollups_before(cur, site_id, day)

    def delete_person(
        self, site_id: str, column: str, value: str | int, spec: RollupSpec
    ) -> dict[str, int]:
        """One person's visits, and their rollups rebuilt, in one transaction
        (footfall/store/duckdb/forget.py)."""
        with self._rollup_lock, self._write_lock, self._transaction() as cur:
            return forget.delete_person(cur, site_id, column, value, spec)

    def delete_site_data(self, site_id: str) -> int:
        """Delete every stored row of one site (events, visits, drop counts); returns the
        number of events deleted."""
        with self._rollup_lock, self._write_lock, self._transaction() as cur:
            deleted = forget.delete_site(cur, site_id)
        self._rollup_states = None
        return deleted

    def write_imported(self, site_id: str, import_id: str, rows: pa.Table) -> int:
        table = imported.conform(rows, site_id, import_id)
        with self._write_lock, self._transaction() as cur:
            imported.duckdb_replace(cur, site_id, import_id, table)
        self._dirty = True
        return int(table.num_rows)

    def maintain_rollups(self, sites: Mapping[str, str], spec: RollupSpec) -> dict[str, Any]:
        """Build the rollups of ``sites`` (id -> time zone) that need it and fold in what
        the writer added since the last run (footfall/store/duckdb/rollups.py). Runs beside
        the writer: it only appends to ``rollup_pending``, which this never updates."""
        with self._reviving(), self._rollup_lock:
            self._maintaining = self._cursor()
            try:
                return duckdb_rollups_run.maintain(
                    self._maintenance_step,
                    sites,
                    spec,
                    lambda: self._closing,
                    self._priority.building,
                )
            finally:
                self._maintaining = None
                self._rollup_states = None  # a build or drop may have changed them

    def fold_rounds(self, spec: RollupSpec, timezone_of: Callable[[str], str | None],
                    waiting: Callable[[tuple[int, int]], int]) -> None:  # fmt: skip
        folder = self._folder
        folder.spec, folder.timezone_of, folder.waiting = spec, timezone_of, waiting

    def building_rollups(self) -> bool:
        return self._priority.active

    def rollup_state(self, site_id: str) -> tuple[str, int] | None:
        # Every query plan asks this; the table changes only in maintain_rollups and
        # delete_site_data (this process owns the store), which forget the copy.
        states = self._rollup_states
        if states is None:
            rows = self._small_read("SELECT site_id, timezone, version FROM rollup_state")
            states = self._rollup_states = {r[0]: (r[1], int(r[2])) for r in rows}
        return states.get(site_id)

    def interrupt_maintenance(self) -> None:
        """Stop a running rollups job now (shutdown): its current statement is
        interrupted and a build stops between steps; the next start resumes it."""
        self._closing = True
        cur = self._maintaining
        if cur is not None:
            cur.interrupt()

    def compact(self, free_ratio: float, swap_wait: float = 30.0) -> dict[str, Any]:
        """Rewrite the file when ``free_ratio`` of it is free blocks (compact.py)."""
        return duckdb_compact.compact_store(self, free_ratio, swap_wait)

    def site_activity(self, site_id: str, drops_since: datetime) -> SiteActivity:
        return siteops.site_activity(self.query, site_id, drops_since)

    def property_keys(self, site_id: str, event: str, limit: int = 50) -> list[str]:
        return siteops.property_keys(self.query, site_id, event, limit)

    def health(self) -> dict[str, Any]:
        rows = self._small_read("SELECT 1")
        return {"backend": "duckdb", "ok": rows == [(1,)], "path": self.path,
                "reopened": self._reviver.reopened}  # fmt: skip
