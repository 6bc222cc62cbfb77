"""``EventStore`` on ClickHouse: a server (clickhouse-connect) or the engine in process
(chdb), chosen by ``FOOTFALL_STORE_URL`` (footfall/store/factory.py).

Queries arrive in the port's form (ClickHouse dialect SQL, ``?`` placeholders) and are
bound as typed server-side parameters (``params.py``). Writes go through the scratch
batch target (``write.py``). Instead of the DuckDB store's rollups it keeps exact daily
ones that a materialized view fills on insert (``rollups.py``; ``Capabilities.daily_rollups``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from footfall.store import imported
from footfall.store.base import (
    Capabilities,
    QueryFn,
    RollupSpec,
    Shares,
    SiteActivity,
    StoreBusy,
)
from footfall.store.clickhouse import (
    by_source,
    firsts,
    forget,
    replay,
    rollups,
    rollups_job,
    schema,
    siteops,
    visit_copy,
)
from footfall.store.clickhouse.params import bind, naive_utc
from footfall.store.clickhouse.rows import Share, owners
from footfall.store.clickhouse.target import ClickHouseTarget
from footfall.store.clickhouse.transport import (
    ChdbTransport,
    HttpTransport,
    Transport,
    out_of_memory,
)
from footfall.store.clickhouse.write import ScratchTarget, plain, progress_of, version_of

LAYOUT_TTL_SECONDS = 30.0


def capabilities(in_process: bool) -> Capabilities:
    return Capabilities(
        name="clickhouse",
        sql_dialect="clickhouse",
        single_writer_process=in_process,  # a chdb path opens in one process only
        daily_rollups=True,
        hourly_rollups=True,
        visit_copy=True,
        first_days=True,
        events_by_source=True,
        # A round pays once for the stored visits it touches (a backlog's rounds touch the
        # same active visitors each time) and for its inserts: 400,000 records cost ~9%
        # less CPU an event than 300,000 for ~150-200 MB more at a backlog's peak
        # (docs/benchmarks.md); FOOTFALL_BATCH_SIZE sets it for smaller workers.
        round_size=400_000,
    )


class ClickHouseStore:
    def __init__(self, target: ClickHouseTarget) -> None:
        self.target = target
        self.capabilities = capabilities(in_process=bool(target.path))
        self._transport: Transport | None = None
        self._write_lock = threading.Lock()
        self._scratch: Any = None
        self._stage: tuple[str, str] = ("", "")
        # partition -> the position this process last committed for it; a partition not
        # listed may hold what a stopped round left (replay.py).
        self._clean: dict[int, int] = {}
        self._committed: dict[int, int] = {}  # partition -> its marker, read this round
        # The rollups' layout version and when it was read: every rollup answer asks it,
        # and it changes only when the rollups job builds (here, or rarely elsewhere).
        self._layout: tuple[float, int | None] = (-1e9, None)

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        t = self.target
        self._clean = {}
        if t.path:
            self._transport = ChdbTransport(t.path, t.database)
        else:
            self._transport = HttpTransport(
                host=t.host, port=t.port, username=t.username, password=t.password,
                database=t.database, secure=t.secure,
            )  # fmt: skip

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied; returns their versions."""
        ch = self.ch
        ch.command(schema.LEDGER)
        done = {int(r[0]) for r in self.query("SELECT version FROM footfall_migrations")}
        applied = []
        for version, statements in schema.MIGRATIONS:
            if version in done:
                continue
            for sql in statements:
                ch.command(sql)
            ch.command(f"INSERT INTO footfall_migrations VALUES ({version}, now())")
            applied.append(version)
        return applied

    def close(self) -> None:
        if self._transport is not None and self._stage[0]:
            for table in self._stage:
                self._transport.command(f"DROP TABLE IF EXISTS {table}")
            self._stage = ("", "")
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None

    @property
    def ch(self) -> Transport:
        if self._transport is None:
            raise RuntimeError("store is not open")
        return self._transport

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def begin_batch(
        self,
        progress: tuple[int, int] | None,
        partition: int = 0,
        shares: Shares | None = None,
        fence: Callable[[], None] | None = None,
    ) -> Iterator[ScratchTarget]:
        with self._write_lock:
            if self._scratch is None:
                self._scratch = ScratchTarget.open_scratch()
                self._stage = ScratchTarget.create_stage(self.ch, uuid.uuid4().hex[:12])
            pos = version_of(progress)
            if progress is None and shares is None:  # an import's round (replay.py)
                partition = replay.IMPORT_PARTITION
                pos = replay.next_position(self.ch, partition)
            parts = [Share(partition, pos)]
            if shares is not None:
                parts = [
                    Share(k, version_of(p))
                    for k, p in zip(shares.partitions, shares.progress, strict=True)
                ]
            target = ScratchTarget(
                self.ch, self._scratch, pos, self._stage, shares=parts, owners=owners(shares)
            )
            if pos:  # every round since imports have a partition of their own
                # A stale worker's replay checks would delete the new owner's uncommitted
                # rows (past the marker), its commit would stand beside the new owner's.
                if fence is not None:
                    fence()
                marks = replay.committed_all(self.ch, [share.part for share in parts])
                for share in parts:
                    self._replay(share, marks[share.part])
            yield target
            if fence is not None:
                fence()
            target.commit()
            for share in parts:
                if share.pos:
                    self._clean[share.part] = max(share.pos, self._committed[share.part])

    def _replay(self, share: Share, done: int) -> None:
        """What a stopped round of partition ``share.part`` left (it committed ``done``):
        settled first, or (the same batch) noted so as not to be written again."""
        k, p = share.part, share.pos
        last = self._clean.pop(k, None)
        self._committed[k] = done
        if last != done:
            # Another process wrote the partition since, or a round of it failed here.
            replay.take_back(self.ch, k, done, p)
            if done:
                replay.settle(self.ch, k, done)
            if p > done:
                share.stored_ids, share.stored_drops = replay.stored_by(self.ch, k, p)
        share.done = p <= done

    def idle(self) -> None:
        pass

    def read_progress(self) -> tuple[int, int] | None:
        done = replay.committed(self.ch, 0)  # the spool's writer is partition 0
        return progress_of(done) if done else None

    # -- reading ---------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        text, named = bind(sql, params)
        try:
            return _rows(plain(self.ch.read(text, named)))
        except Exception as exc:  # past the memory limit: busy, as the DuckDB store says
            if out_of_memory(exc):
                raise StoreBusy() from exc
            raise

    @contextmanager
    def snapshot(self) -> Iterator[QueryFn]:
        # No read transactions: statements of one answer see the rows committed when each
        # runs. A round's visits commit in one part, so no answer sees half a round's visits.
        yield self.query

    def stream(
        self, sql: str, params: Sequence[Any] = (), batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        text, named = bind(sql, params)
        schema_ = None
        for batch in self.ch.arrow_batches(text, named):
            table = plain(pa.Table.from_batches([batch]))
            schema_ = table.schema
            yield from table.to_batches(max_chunksize=batch_rows)
        if schema_ is None:  # the columns, for a consumer of no rows
            empty = plain(self.ch.arrow(f"SELECT * FROM ({text}) LIMIT 0", named))
            yield pa.RecordBatch.from_pylist([], schema=empty.schema)

    # -- deleting --------------------------------------------------------------------------

    def delete_events_before(
        self, cutoff: datetime, site_id: str | None = None, *, with_sessions: bool = True
    ) -> int:
        where, args = ("site_id = ? AND ", [site_id]) if site_id is not None else ("", [])
        cut = naive_utc(cutoff)
        n = int(self.query(f"SELECT count() FROM events WHERE {where}ts < ?", [*args, cut])[0][0])
        with self._write_lock:  # the rollups first: a cut day is read raw from now on
            site = {"site": site_id} if site_id is not None else {}
            rollups.cut_before(self.ch, "site_id = {site:String} AND " if site else "",
                               {**site, "cut": cut})  # fmt: skip
        if n:
            self._delete("events", f"{where}ts < ?", [*args, cut])
        if with_sessions:
            self._delete("sessions", f"{where}site_id <> '' AND end_ts < ?", [*args, cut])
        return n

    def delete_sessions_before(self, cutoff: datetime, site_id: str) -> int:
        return forget.delete_sessions_before(self.query, self._delete, site_id, naive_utc(cutoff))

    def delete_rollups_before(self, day: date, site_id: str) -> int:
        return 0  # no rollups here (capabilities.rollups is False)

    def delete_person(
        self, site_id: str, column: str, value: str | int, spec: RollupSpec
    ) -> dict[str, int]:
        """One person's visits (footfall/store/clickhouse/forget.py); the days of their
        events are listed dirty first (read raw, rebuilt by the rollups job)."""
        with self._write_lock:
            rollups.mark_person(self.ch, site_id, column, value)
        return forget.delete_person(self.query, self._delete, site_id, column, value)

    def delete_site_data(self, site_id: str) -> int:
        n = int(self.query("SELECT count() FROM events WHERE site_id = ?", [site_id])[0][0])
        tables = ("events", "sessions", "dropped_events", "imported_stats", "visitor_days",
                  "visit_days", "visitor_hours", "rollup_dirty", *firsts.TABLES)  # fmt: skip
        for table in tables:
            self._delete(table, "site_id = ?", [site_id])
        return n

    def write_imported(self, site_id: str, import_id: str, rows: pa.Table) -> int:
        table = imported.conform(rows, site_id, import_id)
        self._delete("imported_stats", "site_id = ? AND import_id = ?", [site_id, import_id])
        if table.num_rows:
            with self._write_lock:
                self.ch.insert("imported_stats", table)
        return int(table.num_rows)

    def _delete(self, table: str, where: str, params: Sequence[Any]) -> None:
        """``DELETE FROM table WHERE where``; visits go from their copy too, after, and
        events from theirs by source, before (a delete stopped between the two leaves
        rows in ``events`` for a second run to find, none only in the copy)."""
        text, named = bind(where, params)
        with self._write_lock:
            if by_source.mirrored(table):
                self.ch.command(f"DELETE FROM {by_source.TABLE} WHERE {text}", named)
            self.ch.command(f"DELETE FROM {table} WHERE {text}", named)
            if table == "sessions":  # the copy by start time (visit_copy.py)
                visit_copy.mirror_delete(self.ch, text, named)

    # -- rollups (daily, rollups.py) and health ------------------------------------------

    def building_rollups(self) -> bool:
        """Never in the way of queries: the daily rollups are built by ClickHouse itself."""
        return False

    def maintain_rollups(self, sites: Mapping[str, str], spec: RollupSpec) -> dict[str, Any]:
        """Build the daily rollups for ``spec`` (once per layout version) and rebuild the
        days listed as dirty. ``sites``' time zones are not needed: days are UTC."""
        # Writers (here or in other processes) insert meanwhile: rollups.py's stamps keep
        # the job and the views apart; the claim keeps other processes' jobs out.
        with rollups_job.claim(self.ch) as mine:
            if not mine:
                return {"built": [], "refreshed_days": 0, "busy": True}
            built = rollups.build(self.ch, spec)
            refreshed = rollups.refresh(self.ch, spec)
            self._layout = (-1e9, None)
        return {"built": list(sites) if built else [], "refreshed_days": refreshed}

    def interrupt_maintenance(self) -> None:
        pass

    def fold_rounds(self, spec: RollupSpec, timezone_of: Callable[[str], str | None],
                    waiting: Callable[[tuple[int, int]], int]) -> None:  # fmt: skip
        pass  # the daily rollups are refreshed by the job (no reach rollups to fold)

    def rollup_state(self, site_id: str) -> tuple[str, int] | None:
        """('UTC', layout version) once the daily rollups are built (for every site)."""
        read_at, version = self._layout
        if time.monotonic() - read_at > LAYOUT_TTL_SECONDS:
            version = rollups.built_version(self.ch)
            self._layout = (time.monotonic(), version)
        return None if version is None else ("UTC", version)

    def site_activity(self, site_id: str, drops_since: datetime) -> SiteActivity:
        return siteops.site_activity(self.query, site_id, drops_since)

    def property_keys(self, site_id: str, event: str, limit: int = 50) -> list[str]:
        return siteops.property_keys(self.query, site_id, event, limit)

    def health(self) -> dict[str, Any]:
        ok = self.query("SELECT 1") == [(1,)]
        where = self.target.path or f"{self.target.host}:{self.target.port}/{self.target.database}"
        return {"backend": "clickhouse", "ok": ok, "path": where}


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """Arrow rows as the DuckDB store returns them: maps as dicts, UUIDs as uuid.UUID."""
    columns = []
    for name, col in zip(table.column_names, table.columns, strict=True):
        values = col.to_pylist()
        if pa.types.is_map(col.type):
            values = [dict(v) if v is not None else None for v in values]
        elif name == "event_id" and pa.types.is_fixed_size_binary(col.type):
            values = [uuid.UUID(bytes=v) if v is not None else None for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True)) if columns else []
