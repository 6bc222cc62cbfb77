# ruff: noqa: E501  (tables read better unwrapped)
"""Where a DuckDB store's bytes go (issue 25): per table, and per column of chosen tables.

DuckDB's ``pragma_storage_info`` names each segment's compression but not its size, so
each table (and each column asked for) is copied, in its stored order, into a fresh file
of its own and measured there after a checkpoint, less the size of an almost empty file.
The store is opened read-only (a running server's file: copy it first).

    .venv/bin/python bench/disk_use.py DATA_DIR/events.duckdb [--columns events,reach]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import duckdb


def copied_size(source: Path, sql: str, scratch: Path) -> int:
    """Bytes of a fresh DuckDB file holding ``sql``'s rows (``src`` names the store)."""
    path = scratch / "part.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("ATTACH ? AS src (READ_ONLY)", [str(source)])
        con.execute(f"CREATE TABLE part AS {sql}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    size = path.stat().st_size
    path.unlink()
    return size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("path", type=Path)
    ap.add_argument("--columns", default="", help="tables to break down per column")
    ap.add_argument("--per", type=int, default=0, help="also print bytes per this many events")
    args = ap.parse_args()
    con = duckdb.connect(str(args.path), read_only=True)
    size = con.execute(
        "SELECT block_size * total_blocks, block_size * free_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchall()[0]
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() "
                                        "WHERE database_name = current_database() ORDER BY 1").fetchall()]  # fmt: skip
    events = (
        con.execute("SELECT count(*) FROM events").fetchall()[0][0] if "events" in tables else 0
    )
    per = args.per or events or 1
    print(f"{args.path}: {os.path.getsize(args.path) / 1e6:,.1f} MB on disk, blocks "
          f"{size[0] / 1e6:,.1f} MB of which free {size[1] / 1e6:,.1f} MB; {events:,} events")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        empty = copied_size(args.path, "SELECT 1 AS a", scratch)
        total = 0
        print(f"{'table':24s} {'rows':>12s} {'MB':>9s} {'B/row':>7s} {'B/event':>8s}")
        for table in tables:
            rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
            if not rows:
                continue
            got = copied_size(args.path, f'SELECT * FROM src."{table}"', scratch) - empty
            total += got
            print(f"{table:24s} {rows:>12,} {got / 1e6:>9.1f} {got / rows:>7.1f} {got / per:>8.1f}")
            if table not in args.columns.split(","):
                continue
            columns = con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND table_name = ? ORDER BY column_index",
                [table],
            ).fetchall()
            for (column,) in columns:
                part = copied_size(args.path, f'SELECT "{column}" FROM src."{table}"', scratch)
                part -= empty
                print(f"  {column:22s} {'':>12s} {part / 1e6:>9.1f} {part / rows:>7.2f} "
                      f"{part / per:>8.2f}")  # fmt: skip
        print(f"{'all tables':24s} {'':>12s} {total / 1e6:>9.1f} {'':>7s} {total / per:>8.1f}")


if __name__ == "__main__":
    main()
