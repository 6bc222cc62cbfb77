# ruff: noqa: E501  (SQL reads better unwrapped)
"""Does the store stay small after days of live appends and seals? (issue 25)

On a copy of a store kept by ``bench/footprint.py --keep`` or made by ``bench/query.py
--generate-only``, in this process with the server's defaults (DuckDB 448 MiB, 2 threads):
the events of the last ``--days`` days are held back, the rollups are built from the rest
and the file is compacted, as after a bulk load. Then the held events go back in the
order they happened, as live traffic: a writer round per ``--round-minutes`` of events
(its visitors listed as pending, as the writer lists them, and a checkpoint after it, as
the writer's ``idle`` does), a rollups run every ``--seal-minutes`` (the job's seals), and
the compaction job with the server's policy every simulated hour. Printed after each
simulated day: the DuckDB file (and WAL) per stored event, ``reach`` rows, the file's free
blocks, and the CPU the seals and compactions took. The sessions table is not re-folded
(the held events' visits are already stored): what grows here is ``events`` and the
rollups. ``--daily-salt`` gives each visitor a new id every day first, as live traffic has
(the stores' generators send every event under one salt).

    python bench/days_of_seals.py --store DIR [--days 2] [--round-minutes 1] [--seal-minutes 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import hold_back, open_copy  # noqa: E402

from footfall.config import Settings  # noqa: E402
from footfall.query.rollup import spec  # noqa: E402


def sizes(store: Any, path: Path) -> dict[str, Any]:
    wal = Path(f"{path}.wal")
    total = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    events = store.query("SELECT count(*) FROM events")[0][0]
    reach = store.query("SELECT count(*) FROM reach")[0][0]
    info = store.query("SELECT total_blocks, free_blocks FROM pragma_database_size()")[0]
    return {"bytes": total, "events": events, "bytes_per_event": total / max(1, events),
            "reach_rows": reach, "free_share": info[1] / max(1, info[0])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--store", required=True, type=Path, help="a directory with manifest.json and data/"
    )
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--round-minutes", type=float, default=1.0)
    ap.add_argument("--seal-minutes", type=float, default=10.0)
    ap.add_argument("--copy", default="/tmp/days-of-seals.duckdb", type=Path)
    ap.add_argument("--daily-salt", action="store_true",
                    help="give each visitor a new id every UTC day, as live traffic has (the bench stores send all under one salt)")  # fmt: skip
    args = ap.parse_args()
    store, manifest = open_copy(args.store, args.copy)
    site, tz, con = manifest["site_id"], manifest["tz"], store.con
    free_ratio = Settings().compact_free_ratio
    if args.daily_salt:
        con.execute("UPDATE events SET visitor_id = hash(visitor_id, CAST(ts AS DATE))")
    end = store.query("SELECT max(ts) FROM events")[0][0]
    start = (end - timedelta(days=args.days)).replace(hour=0, minute=0, second=0, microsecond=0)
    hold_back(store, start)
    t = time.perf_counter()
    store.maintain_rollups({site: tz}, spec())
    print(f"build of the events before {start}: {time.perf_counter() - t:.1f} s", flush=True)
    # The held rows wait in a file of their own, outside the one measured (attached again
    # to each database a compaction's swap opens).
    held = args.copy.with_name(args.copy.name + ".held")
    held.unlink(missing_ok=True)
    con.execute("ATTACH ? AS held", [str(held)])
    con.execute("CREATE TABLE held.ev AS SELECT * FROM _held")
    con.execute("DROP TABLE _held")
    con.execute("DETACH held")
    con.execute("CHECKPOINT")

    def attached() -> Any:
        con = store.con
        if not con.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE database_name = 'held'"
        ).fetchall()[0][0]:
            con.execute("ATTACH ? AS held (READ_ONLY)", [str(held)])
        return con

    # The rewrite the compaction job makes after a bulk load and its build (it sorts
    # `reach`, which the build writes unsorted): its own policy finds it due once the
    # copy's count of sorted events is gone, as a store that was never compacted has none.
    con.execute("DELETE FROM compact_state")
    compacted = store.compact(free_ratio)
    print(f"compaction after it: {compacted.get('seconds', 0):.1f} s", flush=True)
    before = sizes(store, args.copy)
    print(f"start: {before['events']:,} events, {before['bytes_per_event']:.1f} bytes an event, "
          f"{before['reach_rows']:,} reach rows, {before['free_share']:.0%} free", flush=True)  # fmt: skip
    step = timedelta(minutes=args.round_minutes)
    seal_every = max(1, round(args.seal_minutes / args.round_minutes))
    hour_every = max(1, round(60 / args.round_minutes))
    cpu = {"rounds": 0.0, "seals": 0.0, "compactions": 0.0}
    rewrites = 0
    at, n = start, 0
    last = attached().execute("SELECT max(ts) FROM held.ev").fetchall()[0][0]
    while at <= last:
        c = time.process_time()
        attached()
        with store.begin_batch(None) as batch:
            batch.cur.execute(
                "INSERT INTO events SELECT * FROM held.ev WHERE ts >= ? AND ts < ?", [at, at + step]
            )
            batch.cur.execute("INSERT INTO rollup_pending (site_id, visitor_id, lo, hi) SELECT site_id, visitor_id, min(ts), max(ts) "
                              "FROM held.ev WHERE ts >= ? AND ts < ? GROUP BY ALL", [at, at + step])  # fmt: skip
        store.idle()
        cpu["rounds"] += time.process_time() - c
        at, n = at + step, n + 1
        if n % seal_every == 0:
            c = time.process_time()
            store.maintain_rollups({site: tz}, spec())
            cpu["seals"] += time.process_time() - c
        if n % hour_every == 0:
            c = time.process_time()
            rewrites += bool(store.compact(free_ratio).get("compacted"))
            cpu["compactions"] += time.process_time() - c
        if n % (24 * hour_every) == 0 or at > last:
            s = sizes(store, args.copy)
            print(f"day {n / (24 * hour_every):.2f}: {s['events']:,} events, {s['bytes_per_event']:.1f} bytes an event "
                  f"({s['bytes'] / 1e6:,.0f} MB), {s['reach_rows']:,} reach rows, {s['free_share']:.0%} free; "
                  f"CPU s rounds {cpu['rounds']:.0f}, seals {cpu['seals']:.0f}, compactions {cpu['compactions']:.0f} "
                  f"({rewrites} rewrites)", flush=True)  # fmt: skip
    store.close()
    held.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
