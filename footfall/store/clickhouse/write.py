"""The ClickHouse store's batch target: the batch steps run on a scratch DuckDB holding
only the stored rows a round may touch; the round's changes are then written to ClickHouse.

A round belongs to one queue partition ``k`` (0 for the spool's one writer; a
``footfall worker`` passes the partition it holds) and ends at that partition's position
``P``. ClickHouse has no multi-statement transactions, so a round is made replayable:
1. ``neighbours``/``touch_visits`` copy stored rows into the scratch, skipping rows the
   round itself may already have written (events of ``k`` at ``pos >= P``): a replay of
   the same batch computes the same result;
2. drop counts, new events and re-stamped events are inserted, each row carrying
   ``part = k`` and ``pos = P``, with deduplication tokens ``k:P:<piece>``: the same on
   every attempt, so a resent or replayed insert of the same batch is written once;
3. the visits' new rows, deleted rows and partition ``k``'s progress marker go in one
   insert, one part: that insert is the commit (``replay.py`` reads the markers);
4. only then are re-stamped events' older rows deleted (``pos < P``): before the commit
   a round only adds rows, so an uncommitted round can be taken back whole.
What a round that stopped part-way left is settled per partition before that partition's
next round (``replay.py``), so rounds of other partitions, written by other workers at
the same time, are never touched.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

import duckdb
import pyarrow as pa

from footfall.store.base import EVENT_COLUMNS
from footfall.store.clickhouse.replay import drop_superseded, sql_list
from footfall.store.clickhouse.transport import Transport

OFFSET_BITS = 40  # a queue position (segment, offset) as one UInt64 version
EVENT_NAMES = [name for name, _ in EVENT_COLUMNS]
_EV_SELECT = ", ".join(
    "toString(event_id) AS event_id" if c == "event_id" else c for c in EVENT_NAMES
)
_SESSION_KEY = "site_id, session_id"


def version_of(progress: tuple[int, int] | None) -> int:
    if progress is None:
        return 0
    return (progress[0] << OFFSET_BITS) | progress[1]


def progress_of(version: int) -> tuple[int, int]:
    return version >> OFFSET_BITS, version & ((1 << OFFSET_BITS) - 1)


def plain(table: pa.Table) -> pa.Table:
    """ClickHouse's Arrow as the batch engine reads it: naive UTC timestamps, decoded
    dictionaries (LowCardinality), UUIDs as their storage."""
    columns = []
    for col in table.columns:
        t = col.type
        if isinstance(t, pa.ExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], t.storage_type)
            t = t.storage_type
        if pa.types.is_dictionary(t):
            col = col.cast(t.value_type)
            t = t.value_type
        if pa.types.is_timestamp(t) and (t.tz is not None or t.unit != "us"):
            # DuckDB's TIMESTAMP: naive UTC, microseconds (exports print the same).
            col = col.cast(pa.timestamp("us"))
        columns.append(col)
    return pa.table(columns, names=table.column_names)


class ScratchTarget:
    """``BatchTarget`` for one round on ClickHouse (see the module docstring)."""

    def __init__(
        self, transport: Transport, scratch: duckdb.DuckDBPyConnection, pos: int,
        stage: tuple[str, str], part: int = 0,
    ) -> None:  # fmt: skip
        self.ch, self.cur, self.pos, self.stage = transport, scratch, pos, stage
        self.part = part
        self.done = False  # this very round is already committed (a replay): write nothing
        # What a stopped attempt of this very batch stored (replay.py): not written again,
        # whether or not ClickHouse's deduplication recognises the repeated inserts.
        self.stored_ids: list[str] = []
        self.stored_drops = False
        for table in ("events", "sessions", "dropped_events", "rollup_pending"):
            self.cur.execute(f"DELETE FROM {table}")
        self.cur.execute("CREATE OR REPLACE TEMP TABLE _loaded_ev AS FROM events LIMIT 0")
        self.cur.execute("CREATE OR REPLACE TEMP TABLE _loaded_s AS FROM sessions LIMIT 0")

    @staticmethod
    def create_stage(transport: Transport, suffix: str) -> tuple[str, str]:
        """The staging tables of one writer (Memory: nothing of them needs to last)."""
        ids, keys = f"footfall_stage_ids_{suffix}", f"footfall_stage_keys_{suffix}"
        transport.command(f"CREATE TABLE IF NOT EXISTS {ids} (event_id UUID) ENGINE = Memory")
        transport.command(
            f"CREATE TABLE IF NOT EXISTS {keys} (site_id String, visitor_id UInt64, "
            "session_id UInt64) ENGINE = Memory"
        )
        return ids, keys

    @staticmethod
    def open_scratch() -> duckdb.DuckDBPyConnection:
        cur = duckdb.connect(":memory:")
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute(resources.files("footfall.ingest.batch").joinpath("tables.sql").read_text())
        # The steps note visitors for rollups, which this store does not keep.
        cur.execute(
            "CREATE TABLE rollup_pending (site_id VARCHAR, visitor_id UBIGINT, "
            "lo TIMESTAMP, hi TIMESTAMP)"
        )
        return cur

    def _load_events(self, where: str) -> None:
        # A round outside the queue (pos 0: an import, footfall/imports/) sees every row;
        # a queue round every row but its partition's own from this position on.
        before = f"(pos < {self.pos} OR part <> {self.part})" if self.pos else "1"
        got = plain(self.ch.arrow(f"SELECT {_EV_SELECT} FROM events WHERE {before} AND {where}"))
        if got.num_rows:
            self.cur.register("_got", got)
            self.cur.execute(
                "INSERT INTO events BY NAME SELECT * FROM _got "
                "WHERE CAST(event_id AS UUID) NOT IN (SELECT event_id FROM _loaded_ev)"
            )
            self.cur.execute(
                "INSERT INTO _loaded_ev BY NAME SELECT * FROM _got "
                "WHERE CAST(event_id AS UUID) NOT IN (SELECT event_id FROM _loaded_ev)"
            )
            self.cur.unregister("_got")

    def neighbours(self, lo: datetime, hi: datetime, since: datetime) -> None:
        # The batch's keys go to the store's staging tables (one Arrow insert each) and
        # are joined there: a literal list of 100,000 ids costs seconds to parse.
        ids = self.cur.sql("SELECT DISTINCT event_id::VARCHAR AS event_id FROM _in")
        keys = self.cur.sql(
            "SELECT DISTINCT site_id, CASE WHEN session_id = 0 THEN visitor_id ELSE 0 END "
            "AS visitor_id, session_id FROM _in"
        )
        stage_ids, stage_keys = self.stage
        self.ch.command(f"TRUNCATE TABLE {stage_ids}")
        self.ch.command(f"TRUNCATE TABLE {stage_keys}")
        self.ch.insert(stage_ids, ids.to_arrow_table())
        self.ch.insert(stage_keys, keys.to_arrow_table())
        self._load_events(
            f"ts BETWEEN '{lo.isoformat(sep=' ')}' AND '{hi.isoformat(sep=' ')}' "
            f"AND site_id IN (SELECT site_id FROM {stage_keys}) "
            f"AND event_id IN (SELECT event_id FROM {stage_ids})"
        )
        sql = (
            "SELECT * EXCEPT (version, is_deleted) FROM sessions "
            f"WHERE site_id IN (SELECT site_id FROM {stage_keys}) AND ("
            f"((site_id, visitor_id) IN (SELECT site_id, visitor_id FROM {stage_keys} WHERE session_id = 0) "
            f"AND end_ts >= '{since.isoformat(sep=' ')}') "
            f"OR (site_id, session_id) IN (SELECT site_id, session_id FROM {stage_keys} WHERE session_id <> 0))"
        )
        got = plain(self.ch.arrow(sql))
        if got.num_rows:
            self.cur.register("_got", got)
            self.cur.execute("INSERT INTO sessions BY NAME SELECT * FROM _got")
            self.cur.execute("INSERT INTO _loaded_s BY NAME SELECT * FROM _got")
            self.cur.unregister("_got")

    def touch_visits(self, visits_sql: str) -> None:
        rows = self.cur.execute(
            f"SELECT DISTINCT site_id, session_id FROM ({visits_sql})"
        ).fetchall()
        for site in {r[0] for r in rows}:
            ids = [r[1] for r in rows if r[0] == site]
            self._load_events(f"site_id = '{_check(site)}' AND session_id IN ({sql_list(ids)})")

    # -- commit -----------------------------------------------------------------------------

    def _write(self, table: str, select: str, part: str) -> pa.Table:
        """Insert the scratch rows ``select`` gives into ``table``, with this round's
        deduplication token for ``part`` (a replayed insert is written once)."""
        rows = self.cur.sql(select).to_arrow_table()
        if rows.num_rows:
            # No queue position, no token: an import's rounds would all share "0:…" and
            # ClickHouse would drop every one after the first as a replay.
            self.ch.insert(table, rows, token=self._token(part))
        return rows

    def _token(self, piece: str) -> str:
        return f"{self.part}:{self.pos}:{piece}" if self.pos else ""

    def commit(self) -> None:
        if self.done:
            return
        p, k = self.pos, self.part
        stamp = f"{k}::USMALLINT AS part, {p}::UBIGINT AS pos"
        if not self.stored_drops:
            self._write("dropped_events", f"SELECT *, {stamp} FROM dropped_events", "dropped")
        cols = ", ".join(
            "event_id::VARCHAR AS event_id" if c == "event_id" else c for c in EVENT_NAMES
        )
        fresh = "1"
        if self.stored_ids:
            ids = pa.table({"event_id": pa.array(self.stored_ids, pa.string())})
            self.cur.register("_stored_ids", ids)
            fresh = "event_id::VARCHAR NOT IN (SELECT event_id FROM _stored_ids)"
        self._write(
            "events",
            f"SELECT {cols}, {stamp} FROM events "
            f"WHERE event_id NOT IN (SELECT event_id FROM _loaded_ev) AND {fresh}",
            "events",
        )
        # Re-stamped events: their UTC days are listed dirty before they are written again,
        # so the daily rollups (which would count them twice) are read raw there.
        changed = self.cur.sql(
            f"SELECT {cols}, {stamp} FROM (FROM events SEMI JOIN _loaded_ev USING (event_id) "
            f"EXCEPT FROM _loaded_ev) WHERE {fresh}"
        ).to_arrow_table()
        if changed.num_rows:
            self.cur.register("_changed", changed)
            days = self.cur.sql(
                "SELECT DISTINCT site_id, date_trunc('day', ts) AS day FROM _changed"
            ).to_arrow_table()
            self.cur.unregister("_changed")
            self.ch.insert("rollup_dirty", days, token=self._token("dirty"))
            self.ch.insert("events", changed, token=self._token("restamp"))
        self._write(
            "sessions",
            f"SELECT *, {p}::UBIGINT AS version, 0::UTINYINT AS is_deleted FROM (FROM sessions EXCEPT FROM _loaded_s) "
            f"UNION ALL BY NAME SELECT *, {p}::UBIGINT AS version, 1::UTINYINT AS is_deleted FROM _loaded_s "
            f"WHERE ({_SESSION_KEY}) NOT IN (SELECT ({_SESSION_KEY}) FROM sessions) "
            # The progress marker: a visit row no site has, deleted, so reads (FINAL) never
            # see it; merges keep it (no cleanup), as the newest row of its key.
            f"UNION ALL BY NAME SELECT '' AS site_id, {k}::UBIGINT AS session_id, TIMESTAMP '1970-01-01' AS start_ts, "
            f"TIMESTAMP '1970-01-01' AS end_ts, 0 AS pageviews, 0 AS events, 0 AS interactive_events, "
            f"0::UBIGINT AS visitor_id, {p}::UBIGINT AS version, 1::UTINYINT AS is_deleted",
            "sessions",
        )
        # The stopped attempt's re-stamped copies (among ``stored_ids``) supersede rows too.
        superseded = changed.column("event_id").to_pylist() + self.stored_ids
        if superseded:
            drop_superseded(self.ch, superseded, k, p)


def _check(site: str) -> str:  # a site id spliced into SQL: they are slugs
    if "'" in site or "\\" in site:
        raise ValueError("site id with quotes")
    return site
