"""``footfall import footfall DIR --site SITE``: a ``footfall export`` read back, as it was.

Events and visits are not recomputed (the export has no user agents to enrich, and needs
none: its rows are already enriched); they are written as they are, under the target
site's id, through the store's batch target (``EventStore.begin_batch`` without a queue
position), so the same code fills the DuckDB and the ClickHouse store. One round per UTC
day of events, with the visits that start that day:

- events whose ids the store holds are left out, so importing twice adds nothing;
- a visit's row replaces a stored row of the same id (the same visit, imported again);
- the DuckDB store's rollups are told which visitors changed (``rollup_pending``);
- the site's goals and funnels are created when the site has none of that name.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from footfall.imports.parquet_export import (
    EVENT_NAMES,
    FORMAT,
    SESSION_NAMES,
    VERSION,
    engine_schema,
)
from footfall.meta.prefs import SitePrefs
from footfall.meta.repo import Metadata, SiteInfo
from footfall.meta.values import MetaValidationError
from footfall.store.base import EventStore


class BadExport(ValueError):
    """The directory is no complete footfall export (the message says what is wrong)."""


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise BadExport(f"{folder} has no manifest.json (not a footfall export, or incomplete)")
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BadExport(f"{path}: not a {FORMAT} of version {VERSION}")
    return manifest


def _with_site(table: pa.Table, site_id: str) -> pa.Table:
    i = table.schema.get_field_index("site_id")
    return table.set_column(i, "site_id", pa.array([site_id] * table.num_rows, pa.string()))


def import_export(
    store: EventStore, meta: Metadata, site: SiteInfo, folder: Path
) -> dict[str, int]:
    """Import the export in ``folder`` into ``site``; counts of rows added and skipped."""
    manifest = read_manifest(folder)
    sessions = pq.read_table(folder / "sessions.parquet", schema=_schema("sessions"))
    sessions = _with_site(sessions, site.id)
    starts = pc.cast(sessions.column("start_ts"), pa.date32())
    counts = {"events": 0, "events_already_there": 0, "sessions": 0, "dropped_events": 0}
    for day_text in manifest["days"]:
        day = date.fromisoformat(day_text)
        path = folder / "events" / f"day={day_text}" / "part-0.parquet"
        events = _with_site(pq.read_table(path).select(EVENT_NAMES), site.id)
        visits = sessions.filter(pc.equal(starts, pa.scalar(day, pa.date32())))
        added = _round(store, events, visits, day)
        counts["events"] += added
        counts["events_already_there"] += events.num_rows - added
        counts["sessions"] += visits.num_rows
    # Visits starting on a day without events (none are made so; kept for completeness).
    days = {date.fromisoformat(d) for d in manifest["days"]}
    rest = sessions.filter(pc.invert(pc.is_in(starts, pa.array(sorted(days), pa.date32()))))
    if rest.num_rows:
        _round(store, pa.Table.from_pylist([], schema=_schema("events")), rest, None)
        counts["sessions"] += rest.num_rows
    dropped_path = folder / "dropped_events.parquet"
    if dropped_path.exists():
        counts["dropped_events"] = _dropped(store, _with_site(pq.read_table(dropped_path), site.id))
    _site_config(meta, site, manifest["site"])
    return counts


def _schema(table: str) -> pa.Schema:
    return engine_schema(table)


def _round(store: EventStore, events: pa.Table, visits: pa.Table, day: date | None) -> int:
    """One batch-target round: events not stored yet, and the visits' rows."""
    with store.begin_batch(None) as target:
        cur = target.cur
        cur.register("_imp_ev", events)
        cur.register("_imp_s", visits)
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _in AS SELECT CAST(event_id AS UUID) AS event_id, "
            "site_id, visitor_id, session_id FROM _imp_ev"
        )
        if day is not None and events.num_rows:
            lo = datetime(day.year, day.month, day.day)
            target.neighbours(lo - timedelta(days=1), lo + timedelta(days=2), lo)
        cols = ", ".join(
            "CAST(event_id AS UUID) AS event_id" if c == "event_id" else c for c in EVENT_NAMES
        )
        # Event ids are unique: what the store holds (an earlier import) is left out.
        added = target.insert_events(
            f"SELECT {cols} FROM _imp_ev "
            "WHERE CAST(event_id AS UUID) NOT IN (SELECT event_id FROM events WHERE ts BETWEEN "
            "(SELECT min(ts) FROM _imp_ev) AND (SELECT max(ts) FROM _imp_ev))"
        )
        names = ", ".join(SESSION_NAMES)
        cur.execute(
            "DELETE FROM sessions WHERE (site_id, session_id) IN "
            "(SELECT (site_id, session_id) FROM _imp_s)"
        )
        target.insert_visits(f"SELECT {names} FROM _imp_s")
        # The DuckDB store's exact rollups rebuild these visitors' days (others ignore it).
        cur.execute(
            "INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) "
            "SELECT site_id, visitor_id, min(start_ts), max(end_ts) FROM _imp_s GROUP BY ALL"
        )
        cur.unregister("_imp_ev")
        cur.unregister("_imp_s")
        cur.execute("DROP TABLE IF EXISTS _in")
    return added


def _dropped(store: EventStore, rows: pa.Table) -> int:
    """Drop counts are added unless the site already has counts for those hours (read
    from the store itself: a ClickHouse batch target starts with none)."""
    site_id = rows.column("site_id")[0].as_py() if rows.num_rows else ""
    have = {
        (h.replace(tzinfo=None), r)
        for h, r in store.query(
            "SELECT hour, reason FROM dropped_events WHERE site_id = ?", [site_id]
        )
    }
    keep = [
        (h, r) not in have
        for h, r in zip(
            rows.column("hour").to_pylist(), rows.column("reason").to_pylist(), strict=True
        )
    ]
    rows = rows.filter(pa.array(keep, pa.bool_()))
    if not rows.num_rows:
        return 0
    with store.begin_batch(None) as target:
        target.cur.register("_imp_d", rows)
        target.cur.execute("INSERT INTO dropped_events SELECT site_id, hour, reason, n FROM _imp_d")
        target.cur.unregister("_imp_d")
    return int(rows.num_rows)


def _site_config(meta: Metadata, site: SiteInfo, exported: dict[str, Any]) -> None:
    prefs = SitePrefs(meta)
    have = {g.name: g for g in prefs.goals(site.id)}
    for g in exported.get("goals", []):
        if g["name"] not in have:
            have[g["name"]] = prefs.create_goal(
                site.id,
                g["name"],
                g["kind"],
                g["target"],
                g["prop_key"],
                g["prop_value"],
                g.get("currency", ""),  # exports made before revenue goals have none
            )
    funnels = {f.name for f in prefs.funnels(site.id)}
    for f in exported.get("funnels", []):
        if f["name"] not in funnels and all(s in have for s in f["steps"]):
            # A funnel the target refuses (its rules changed) is left out.
            with contextlib.suppress(MetaValidationError):
                steps = [have[s].id for s in f["steps"]]
                # An export made before funnels had windows: the 24 hours all had then.
                prefs.create_funnel(site.id, f["name"], steps, f.get("window_hours", 24))
