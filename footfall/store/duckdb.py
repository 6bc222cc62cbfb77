"""Embedded event store on DuckDB: one file in the data directory, Arrow batch inserts.

Writes come from one writer thread; queries from any thread, each on its own cursor
(DuckDB connections are not shared across threads, cursors are cheap). A batch's events,
its session merges, drop counts and the queue position commit in one transaction, so a
crash between batches replays the spool exactly once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from footfall.store.base import (
    EVENT_COLUMNS,
    SESSION_FIRST_EVENT_COLUMNS,
    VISIT_COLUMNS,
    Capabilities,
    SessionSpan,
    WriteBatch,
)

CAPABILITIES = Capabilities(
    name="duckdb", sql_dialect="duckdb", transactional_batches=True, single_writer_process=True
)

_FIRST = ", ".join(f"arg_min({c}, start_ts) AS {c}" for c in SESSION_FIRST_EVENT_COLUMNS)
_EVENT_AS_SESSION = ", ".join(SESSION_FIRST_EVENT_COLUMNS)

# Each new event is a one-event session; existing rows of the touched sessions are unioned
# in, and one GROUP BY folds both. The same fold merges two visits a late event bridged.
_MERGE_SESSIONS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _merged AS
WITH parts AS (
    SELECT site_id, session_id, ts AS start_ts, ts AS end_ts,
           CASE WHEN name = 'pageview' THEN pathname END AS entry_page,
           CASE WHEN name = 'pageview' THEN ts END AS entry_ts,
           CASE WHEN name = 'pageview' THEN pathname END AS exit_page,
           CASE WHEN name = 'pageview' THEN ts END AS exit_ts,
           (name = 'pageview')::BIGINT AS pageviews,
           (name <> 'engagement')::BIGINT AS events,
           interactive::BIGINT AS interactive_events,
           {_EVENT_AS_SESSION}
    FROM _batch
    UNION ALL
    SELECT s.site_id, coalesce(m.keep_id, s.session_id) AS session_id, s.start_ts, s.end_ts,
           s.entry_page, s.entry_ts, s.exit_page, s.exit_ts, s.pageviews, s.events,
           s.interactive_events, {", ".join("s." + c for c in SESSION_FIRST_EVENT_COLUMNS)}
    FROM sessions s JOIN _touched t ON s.site_id = t.site_id AND s.session_id = t.session_id
    LEFT JOIN _merges m ON s.site_id = m.site_id AND s.session_id = m.drop_id
)
SELECT site_id, session_id, min(start_ts) AS start_ts, max(end_ts) AS end_ts,
       arg_min(entry_page, entry_ts) AS entry_page, min(entry_ts) AS entry_ts,
       arg_max(exit_page, exit_ts) AS exit_page, max(exit_ts) AS exit_ts,
       sum(pageviews)::BIGINT AS pageviews, sum(events)::BIGINT AS events,
       sum(interactive_events)::BIGINT AS interactive_events, {_FIRST}
FROM parts GROUP BY site_id, session_id
"""


class DuckDBStore:
    """``EventStore`` on a DuckDB file (or ``:memory:`` for tests)."""

    capabilities = CAPABILITIES

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._local = threading.local()
        self._write_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(self.path)
        ddl = resources.files("footfall.store").joinpath("schema/duckdb.sql").read_text()
        self._con.execute(ddl)

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

    def write_batch(self, batch: WriteBatch) -> None:
        with self._write_lock, self._transaction() as cur:
            events = batch.events
            cur.register("_batch", events)
            merges = pa.table(
                {
                    "site_id": pa.array([m[0] for m in batch.session_merges], pa.string()),
                    "drop_id": pa.array([m[1] for m in batch.session_merges], pa.uint64()),
                    "keep_id": pa.array([m[2] for m in batch.session_merges], pa.uint64()),
                }
            )
            cur.register("_merges", merges)
            if batch.session_merges:
                # A late event joined two visits: move the later one's events to the kept id.
                cur.execute(
                    "UPDATE events SET session_id = m.keep_id FROM _merges m "
                    "WHERE events.site_id = m.site_id AND events.session_id = m.drop_id"
                )
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE _touched AS "
                "SELECT DISTINCT site_id, session_id FROM _batch "
                "UNION SELECT site_id, drop_id FROM _merges "
                "UNION SELECT site_id, keep_id FROM _merges"
            )
            cols = ", ".join(name for name, _ in EVENT_COLUMNS)
            select = cols.replace("event_id", "CAST(event_id AS UUID)", 1)
            cur.execute(f"INSERT INTO events ({cols}) SELECT {select} FROM _batch")
            cur.execute(_MERGE_SESSIONS_SQL)
            cur.execute(
                "DELETE FROM sessions USING _touched t "
                "WHERE sessions.site_id = t.site_id AND sessions.session_id = t.session_id"
            )
            cur.execute("INSERT INTO sessions BY NAME SELECT * FROM _merged")
            if batch.restamp:
                self._restamp(cur, batch.restamp)
            if batch.drops:
                drops = pa.table(
                    {
                        "site_id": [k[0] for k in batch.drops],
                        "hour": pa.array([k[1] for k in batch.drops], pa.timestamp("ms")),
                        "reason": [k[2] for k in batch.drops],
                        "n": pa.array(list(batch.drops.values()), pa.int64()),
                    }
                )
                cur.register("_drops", drops)
                cur.execute("INSERT INTO dropped_events SELECT * FROM _drops")
                cur.unregister("_drops")
            if batch.progress is not None:
                cur.execute(
                    'INSERT OR REPLACE INTO writer_progress (id, segment, "offset") '
                    "VALUES (1, ?, ?)",
                    list(batch.progress),
                )
            cur.unregister("_batch")
            cur.unregister("_merges")

    def _restamp(self, cur: duckdb.DuckDBPyConnection, keys: list[tuple[str, int]]) -> None:
        """Rewrite the visit attributes stamped on the events of ``keys`` from their rows."""
        table = pa.table(
            {
                "site_id": pa.array([k[0] for k in keys], pa.string()),
                "session_id": pa.array([k[1] for k in keys], pa.uint64()),
            }
        )
        cur.register("_restamp", table)
        sets = ", ".join(f"{c} = s.{c}" for c in (*VISIT_COLUMNS, "entry_page"))
        cur.execute(
            f"UPDATE events SET {sets} FROM sessions s JOIN _restamp r "
            "ON s.site_id = r.site_id AND s.session_id = r.session_id "
            "WHERE events.site_id = s.site_id AND events.session_id = s.session_id"
        )
        cur.unregister("_restamp")

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
        rows = self._cursor().execute('SELECT segment, "offset" FROM writer_progress').fetchall()
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    # -- what the writer asks before writing -----------------------------------------------

    def existing_event_ids(self, ids: Sequence[str], lo_ms: int, hi_ms: int) -> set[str]:
        if not ids:
            return set()
        cur = self._cursor()
        cur.register("_ids", pa.table({"id": pa.array(list(ids), pa.string())}))
        try:
            rows = cur.execute(
                "SELECT CAST(event_id AS VARCHAR) FROM events "
                "WHERE ts BETWEEN make_timestamp_ms(?) AND make_timestamp_ms(?) "
                "AND event_id IN (SELECT CAST(id AS UUID) FROM _ids)",
                [lo_ms, hi_ms],
            ).fetchall()
        finally:
            cur.unregister("_ids")
        return {r[0] for r in rows}

    def sessions_for_visitors(
        self, keys: Sequence[tuple[str, int]], since_ms: int
    ) -> list[SessionSpan]:
        return self._spans(keys, "visitor_id", "AND s.end_ts >= make_timestamp_ms(?)", [since_ms])

    def sessions_by_id(self, keys: Sequence[tuple[str, int]]) -> list[SessionSpan]:
        return self._spans(keys, "session_id", "", [])

    def _spans(
        self, keys: Sequence[tuple[str, int]], column: str, where: str, params: list[Any]
    ) -> list[SessionSpan]:
        if not keys:
            return []
        cur = self._cursor()
        table = pa.table(
            {
                "site_id": pa.array([k[0] for k in keys], pa.string()),
                "k": pa.array([k[1] for k in keys], pa.uint64()),
            }
        )
        cur.register("_keys", table)
        attrs = ", ".join("s." + c for c in VISIT_COLUMNS)
        try:
            rows = cur.execute(
                "SELECT s.site_id, s.visitor_id, s.session_id, epoch_ms(s.start_ts), "
                "epoch_ms(s.end_ts), s.entry_page, epoch_ms(s.entry_ts), "
                f"{attrs} FROM sessions s JOIN _keys k "
                f"ON s.site_id = k.site_id AND s.{column} = k.k {where}",
                params,
            ).fetchall()
        finally:
            cur.unregister("_keys")
        return [
            SessionSpan(
                r[0],
                int(r[1]),
                int(r[2]),
                int(r[3]),
                int(r[4]),
                tuple(r[7:]),
                r[5],
                None if r[6] is None else int(r[6]),
            )
            for r in rows
        ]

    # -- reading and maintenance -----------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._cursor().execute(sql, list(params)).fetchall()

    def delete_events_before(self, cutoff: datetime, batch_rows: int = 500_000) -> int:
        """Delete raw events (and visits that ended) before ``cutoff``, a day at a time."""
        cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
        oldest = self._cursor().execute("SELECT min(ts) FROM events").fetchall()[0][0]
        if oldest is None or oldest >= cutoff:
            return 0
        deleted = 0
        step = oldest.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        # Day-sized transactions keep each delete's undo log small on a big store.
        while True:
            upto = min(step, cutoff)
            with self._write_lock, self._transaction() as cur:
                got = cur.execute("DELETE FROM events WHERE ts < ?", [upto]).fetchall()
                deleted += int(got[0][0]) if got else 0
                cur.execute("DELETE FROM sessions WHERE end_ts < ?", [upto])
            if upto >= cutoff:
                return deleted
            step += timedelta(days=1)

    def health(self) -> dict[str, Any]:
        rows = self._cursor().execute("SELECT 1").fetchall()
        return {"backend": "duckdb", "ok": rows == [(1,)], "path": self.path}
