"""The ClickHouse store's batch target: the batch steps run on a scratch DuckDB holding
only the stored rows a round may touch; the round's changes are then written to ClickHouse.

A round belongs to one queue partition ``k`` (0 for the spool's one writer; a
``footfall worker`` passes the partition it holds) and ends at that partition's position
``P``. ClickHouse has no multi-statement transactions, so a round is made replayable:
1. ``neighbours``/``touch_visits`` copy stored rows into the scratch, skipping rows the
   round itself may already have written (events of ``k`` at ``pos >= P``): a replay of
   the same batch computes the same result;
2. drop counts, new events (handed over as Arrow by ``insert_events``, never written
   into the scratch) and re-stamped events are inserted, each row carrying
   ``part = k`` and ``pos = P``, with deduplication tokens ``k:P:<piece>``: the same on
   every attempt, so a resent or replayed insert of the same batch is written once;
3. the visits' new rows, deleted rows and partition ``k``'s progress marker go in one
   insert, one part: that insert is the commit (``replay.py`` reads the markers);
4. only then are re-stamped events' older rows deleted (``pos < P``): before the commit
   a round only adds rows, so an uncommitted round can be taken back whole.
What a round that stopped part-way left is settled per partition before that partition's
next round (``replay.py``), so rounds of other partitions, written by other workers at
the same time, are never touched.

A worker's round over several partitions (``Shares``) is several such rounds sharing the
batch steps and the inserts: each visitor's rows are stamped with its partition's
``part`` and ``pos`` (``_owners``), and one insert per table carries every share's rows
(each insert is a new part on the server: one per share cost a round of 4 partitions 4x),
the visits' with every share's marker: all shares commit at once, and a stopped round is
replayed per partition, by whichever worker holds it next, as a round of it alone would.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from footfall.store.base import EVENT_COLUMNS, EventPieces
from footfall.store.clickhouse.keys import batch_keys, create_stage
from footfall.store.clickhouse.replay import IMPORT_PARTITION, drop_superseded, sql_list
from footfall.store.clickhouse.rows import (
    Share,
    casts,
    check_site,
    new_events,
    none_of,
    plain,
    progress_of,
    version_of,
)
from footfall.store.clickhouse.transport import Transport

__all__ = ["ScratchTarget", "Share", "plain", "progress_of", "version_of"]

EVENT_NAMES = [name for name, _ in EVENT_COLUMNS]
_EV_SELECT = ", ".join(
    "toString(event_id) AS event_id" if c == "event_id" else c for c in EVENT_NAMES
)
_SESSION_KEY = "site_id, session_id"


class ScratchTarget:
    """``BatchTarget`` for one round on ClickHouse (see the module docstring)."""

    def __init__(
        self, transport: Transport, scratch: duckdb.DuckDBPyConnection, pos: int,
        stage: tuple[str, str], part: int = 0, shares: list[Share] | None = None,
        owners: pa.Table | None = None,
    ) -> None:  # fmt: skip
        self.ch, self.cur, self.pos, self.stage = transport, scratch, pos, stage
        # The partitions' batches this round commits, each apart (one without shares);
        # replay.py fills in what each one's stopped attempts left.
        self.shares = shares or [Share(part, pos)]
        self.queued = self.shares[-1].part != IMPORT_PARTITION  # else an import's round
        for table in ("events", "sessions", "dropped_events", "rollup_pending"):
            self.cur.execute(f"DELETE FROM {table}")
        # Which share each visitor's rows go with (``owners``: site_id, visitor_id, part,
        # pos); a visitor not listed goes with the last share.
        self.split = owners is not None
        self.cur.execute(
            "CREATE OR REPLACE TEMP TABLE _owners "
            "(site_id VARCHAR, visitor_id UBIGINT, part USMALLINT, pos UBIGINT)"
        )
        if owners is not None:
            self.cur.register("_o", owners)
            self.cur.execute("INSERT INTO _owners BY NAME SELECT * FROM _o")
            self.cur.unregister("_o")
        # The round's new events, stamped (``insert_events``): they skip the scratch.
        self.new_events: pa.Table | None = None
        self.new_visits: pa.Table | None = None
        self.cur.execute("CREATE OR REPLACE TEMP TABLE _loaded_ev AS FROM events LIMIT 0")
        self.cur.execute("CREATE OR REPLACE TEMP TABLE _loaded_s AS FROM sessions LIMIT 0")

    @property
    def done(self) -> bool:
        """Every share of this round is committed already (a replay): write nothing."""
        return all(s.done for s in self.shares)

    create_stage = staticmethod(create_stage)

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
        # A round sees every row but its partition's own from its position on (an import's
        # partition has none: replay.py took back what a stopped import round left).
        before = (
            " AND ".join(f"(pos < {s.pos} OR part <> {s.part})" for s in self.shares)
            if self.pos
            else "1"
        )
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
        k = batch_keys(self.cur, self.ch, self.stage)
        self._load_events(
            f"ts BETWEEN '{lo.isoformat(sep=' ')}' AND '{hi.isoformat(sep=' ')}' "
            f"AND {k.sites} AND {k.ids}"
        )
        sql = (
            f"SELECT * EXCEPT (version, is_deleted) FROM sessions WHERE {k.sites} AND ("
            f"({k.visitors} AND end_ts >= '{since.isoformat(sep=' ')}') OR {k.sessions})"
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
            self._load_events(f"site_id = '{check_site(site)}' AND session_id IN ({sql_list(ids)})")

    def insert_events(self, select: str, pieces: EventPieces | None = None) -> int:
        # Straight to Arrow, as ClickHouse gets them: writing them into the scratch and
        # reading them back out cost a chdb round ~8% of its CPU. Cast to the scratch's
        # column types, so the rows are exactly what that way gave; a round's column by
        # column from its pieces (rows.new_events), an import's from its query.
        if pieces is not None:
            self.new_events = new_events(self.cur, pieces, lambda q: self._stamped(q, every=True))
        else:
            cols = casts(self.cur, "events", EVENT_NAMES)
            query = self._stamped(f"SELECT {cols} FROM ({select})", every=True)
            self.new_events = self.cur.sql(query).to_arrow_table()
        return int(self.new_events.num_rows)

    def insert_visits(self, select: str) -> None:
        # Likewise the visits' rows (in the scratch's column order: commit compares them
        # with the stored rows loaded).
        cols = casts(self.cur, "sessions")
        self.new_visits = self.cur.sql(f"SELECT {cols} FROM ({select})").to_arrow_table()

    # -- commit -----------------------------------------------------------------------------

    def _stamped(self, select: str, column: str = "pos", every: bool = False) -> str:
        """``select``'s rows with ``part`` and ``column`` (the position) of their
        visitor's share, less those of shares committed already (unless ``every``)."""
        last = self.shares[-1]
        if not self.split:
            # One share, not committed (else there is no commit): every row is its own.
            return (
                f"SELECT s.*, {last.part}::USMALLINT AS part, {last.pos}::UBIGINT AS {column} "
                f"FROM ({select}) s"
            )
        done = "1" if every else none_of([s.part for s in self.shares if s.done])
        return (
            f"SELECT * FROM (SELECT s.*, coalesce(o.part, {last.part})::USMALLINT AS part, "
            f"coalesce(o.pos, {last.pos})::UBIGINT AS {column} FROM ({select}) s "
            "LEFT JOIN _owners o ON o.site_id = s.site_id AND o.visitor_id = s.visitor_id) "
            f"WHERE {done}"
        )

    def _write(self, table: str, rows: pa.Table, piece: str, keep_part: bool = True) -> None:
        """Insert ``rows`` (of the shares not committed yet) in one insert with the
        round's token for ``piece``: a resent insert of this round is written once. What
        a replay of one partition skips is found by the rows' ``part`` and ``pos``
        (``replay.stored_by``), not by the token."""
        if not rows.num_rows:
            return
        if not keep_part:
            rows = rows.drop_columns(["part"])
        # An import's round, no token: it is never replayed as the same batch, and a
        # position it took again after a stop must not drop its inserts as replays.
        self.ch.insert(table, rows, token=f"{self._names}:{piece}" if self.queued else "")

    @property
    def _names(self) -> str:  # the same on every attempt of this round, unlike any other's
        return "-".join(f"{s.part}:{s.pos}" for s in self.shares if not s.done)

    def _drops(self) -> pa.Table:
        unsaved = none_of([s.part for s in self.shares if s.stored_drops])
        if self.split and self.cur.execute("SELECT count(*) FROM dropped_events").fetchall()[0][0]:
            # The steps keep this round's drops per visitor in _drops (steps.py).
            select = (
                f"SELECT site_id, hour, reason, sum(n)::BIGINT AS n, part, pos FROM "
                f"({self._stamped('SELECT * FROM _drops')}) GROUP BY ALL"
            )
        else:
            s = self.shares[-1]
            select = (
                f"SELECT *, {s.part}::USMALLINT AS part, {s.pos}::UBIGINT AS pos "
                "FROM dropped_events"
            )
        return self.cur.sql(f"FROM ({select}) WHERE {unsaved}").to_arrow_table()

    def commit(self) -> None:
        if self.done:
            return
        self._write("dropped_events", self._drops(), "dropped")
        cols = ", ".join(
            "event_id::VARCHAR AS event_id" if c == "event_id" else c for c in EVENT_NAMES
        )
        fresh = "1"
        stored_ids = [i for s in self.shares for i in s.stored_ids]
        if stored_ids:
            ids = pa.table({"event_id": pa.array(stored_ids, pa.string())})
            self.cur.register("_stored_ids", ids)
            fresh = "event_id::VARCHAR NOT IN (SELECT event_id FROM _stored_ids)"
        new = self.new_events
        if new is not None:
            # Less the events a stopped attempt of this batch stored, and those of shares
            # committed already.
            if stored_ids:
                stored = pa.array(stored_ids, pa.string())
                new = new.filter(pc.invert(pc.is_in(new.column("event_id"), value_set=stored)))
            done = [s.part for s in self.shares if s.done]
            if done:
                parts = pa.array(done, pa.uint16())
                new = new.filter(pc.invert(pc.is_in(new.column("part"), value_set=parts)))
        # Re-stamped events: their UTC days are listed dirty before they are written again,
        # so the daily rollups (which would count them twice) are read raw there.
        changed = self.cur.sql(
            self._stamped(
                f"SELECT {cols} FROM (FROM events SEMI JOIN _loaded_ev USING (event_id) "
                f"EXCEPT FROM _loaded_ev) WHERE {fresh}"
            )
        ).to_arrow_table()
        live = [s for s in self.shares if not s.done]
        if changed.num_rows:
            self.cur.register("_changed", changed)
            days = self.cur.sql(
                "SELECT DISTINCT site_id, date_trunc('day', ts) AS day FROM _changed"
            ).to_arrow_table()
            self.cur.unregister("_changed")
            # One insert for every share: a day listed twice is harmless (read as a set).
            self.ch.insert(
                "rollup_dirty", days, token=f"{self._names}:dirty" if self.queued else ""
            )
        # The new events and the re-stamped copies in one insert (after the dirty days).
        rows = [t for t in (new, changed) if t is not None and t.num_rows]
        if len(rows) == 2:  # one dictionary per column (the new events' have some)
            rows = [rows[0], rows[1].select(rows[0].column_names).cast(rows[0].schema)]
            rows = [pa.concat_tables(rows).unify_dictionaries()]
        if rows:
            self._write("events", pa.concat_tables(rows), "events")
        markers = "".join(
            # The progress marker of each share: a visit row no site has, deleted, so reads
            # (FINAL) never see it; merges keep it (no cleanup), as the newest row of its
            # key. It goes in the insert of the visits: the round's commit.
            f" UNION ALL BY NAME SELECT '' AS site_id, {s.part}::UBIGINT AS session_id, "
            "TIMESTAMP '1970-01-01' AS start_ts, TIMESTAMP '1970-01-01' AS end_ts, "
            "0 AS pageviews, 0 AS events, 0 AS interactive_events, 0::UBIGINT AS visitor_id, "
            f"{s.part}::USMALLINT AS part, {s.pos}::UBIGINT AS version, 1::UTINYINT AS is_deleted"
            for s in live
        )
        # The visits' rows that changed, and the stored rows no visit has any more (merged
        # into another): the scratch holds the stored rows left, ``new_visits`` the rest.
        # Only a row of a visit loaded can be unchanged: the others skip the comparison of
        # every column (an EXCEPT over all of them took half of this statement's CPU).
        nv = "(FROM sessions LIMIT 0)"
        if self.new_visits is not None:
            self.cur.register("_nv", self.new_visits)
            nv = "_nv"
        visits = self.cur.sql(
            self._stamped(
                f"SELECT *, 0::UTINYINT AS is_deleted FROM (FROM {nv} ANTI JOIN _loaded_s "
                f"USING ({_SESSION_KEY}) UNION ALL (FROM {nv} SEMI JOIN _loaded_s "
                f"USING ({_SESSION_KEY}) EXCEPT FROM _loaded_s)) "
                "UNION ALL BY NAME SELECT *, 1::UTINYINT AS is_deleted FROM _loaded_s "
                f"WHERE ({_SESSION_KEY}) NOT IN (SELECT ({_SESSION_KEY}) FROM sessions) "
                f"AND ({_SESSION_KEY}) NOT IN (SELECT ({_SESSION_KEY}) FROM {nv})",
                "version",
            )
            + markers
        ).to_arrow_table()
        if self.new_visits is not None:
            self.cur.unregister("_nv")
        self._write("sessions", visits, "sessions", keep_part=False)
        # Only once every share has committed: the stopped attempt's re-stamped copies
        # (among ``stored_ids``) supersede rows too.
        superseded = []
        for s in live:
            mine = pc.equal(changed.column("part"), pa.scalar(s.part, pa.uint16()))
            ids = changed.filter(mine).column("event_id").to_pylist() + s.stored_ids
            superseded.append((s.part, s.pos, ids))
        drop_superseded(self.ch, superseded)
