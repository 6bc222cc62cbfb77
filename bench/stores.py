# ruff: noqa: E501
"""``bench/query.py --store chdb|http``: the dashboard set on the ClickHouse store beside
DuckDB's, in the same run, on the same rows, with the answers compared.

The generated DuckDB store is copied into ClickHouse (``<dir>/clickhouse``) once (kept
with --keep), through the store's own schema: events and visits as Arrow batches. Then
the set runs on DuckDB (as shipped: with its exact rollups when built) and on ClickHouse
(as shipped: with its daily rollups, built here as the rollups job would),
alternating repetitions so both see the same machine; p50/p95 of the parallel set's wall
time, peak RSS, bytes on disk, and the ratio ClickHouse / DuckDB. ``http`` serves the
ClickHouse path from the test stand-in (tests/support/clickhouse_standin.py) in a child
process and reads it through clickhouse-connect, as a server deployment would.
"""

from __future__ import annotations

import contextlib
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def copy_into_clickhouse(duck_path: Path, ch_path: Path, log: Any) -> dict[str, Any]:
    """Events and visits of the DuckDB store into a fresh chdb store at ``ch_path``."""
    import duckdb

    from footfall.store.clickhouse.store import ClickHouseStore
    from footfall.store.clickhouse.target import ClickHouseTarget

    marker = ch_path / "copied"
    if marker.exists():
        return {"copied": False, "bytes": _dir_bytes(ch_path)}
    store = ClickHouseStore(ClickHouseTarget(path=str(ch_path)))
    store.open()
    store.migrate()
    con = duckdb.connect(str(duck_path), read_only=True)
    t = time.perf_counter()
    rows = 0
    try:
        events = con.sql(
            "SELECT * EXCLUDE (event_id), event_id::VARCHAR AS event_id, 0::UBIGINT AS pos FROM events"
        )
        for batch in events.to_arrow_reader(500_000):
            store.ch.insert("events", pa.Table.from_batches([batch]))
            rows += batch.num_rows
        visits = con.sql("SELECT *, 1::UBIGINT AS version, 0::UTINYINT AS is_deleted FROM sessions")
        for batch in visits.to_arrow_reader(500_000):
            store.ch.insert("sessions", pa.Table.from_batches([batch]))
        store.ch.command("OPTIMIZE TABLE events FINAL")
        store.ch.command("OPTIMIZE TABLE sessions FINAL")
    finally:
        con.close()
        store.close()
    seconds = time.perf_counter() - t
    marker.write_text("ok")
    log(f"copied {rows:,} events into ClickHouse in {seconds:.0f} s ({rows / seconds:,.0f} rows/s)")
    return {"copied": True, "rows": rows, "seconds": seconds, "bytes": _dir_bytes(ch_path)}


@contextlib.contextmanager
def clickhouse_runner(kind: str, ch_path: Path) -> Iterator[tuple[Any, Any]]:
    """A QueryRunner on the ClickHouse copy: chdb in process, or the stand-in over HTTP."""
    from footfall.query.runner import QueryRunner
    from footfall.store.clickhouse.store import ClickHouseStore
    from footfall.store.clickhouse.target import ClickHouseTarget

    proc = None
    if kind == "chdb":
        target = ClickHouseTarget(path=str(ch_path))
    else:
        port_file = ch_path.parent / "standin.port"
        port_file.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.clickhouse_standin", "--path", str(ch_path),
             "--port", "0", "--port-file", str(port_file)],
            cwd=ROOT,
        )  # fmt: skip
        deadline = time.time() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("the stand-in did not start")
            time.sleep(0.1)
        target = ClickHouseTarget(host="127.0.0.1", port=int(port_file.read_text()))
    store = ClickHouseStore(target)
    store.open()
    try:
        store.migrate()  # as every start does: a kept copy gets the migrations since
        # As the rollups job does on a server's first start (kept with --keep: built once).
        from footfall.query.dialects import CLICKHOUSE
        from footfall.query.rollup import spec

        t = time.perf_counter()
        built = store.maintain_rollups({}, spec(CLICKHOUSE))
        print(f"ClickHouse daily rollups: {built} in {time.perf_counter() - t:.1f} s", flush=True)
        yield store, QueryRunner(store)
    finally:
        store.close()
        if proc is not None:
            proc.terminate()
            proc.wait(30)


def compare(args: Any, manifest: dict[str, Any], root: Path, queries: list[tuple[str, dict[str, Any]]],
            open_runner: Any, in_process: Any, site: Any, pct: Any, log: Any) -> dict[str, Any]:  # fmt: skip
    """The parallel dashboard set on DuckDB and on ClickHouse, alternated."""
    ch_path = root / "clickhouse"
    out: dict[str, Any] = {
        "copy": copy_into_clickhouse(root / "data" / "events.duckdb", ch_path, log)
    }
    out["bytes"] = {
        "duckdb": (root / "data" / "events.duckdb").stat().st_size,
        "clickhouse": _dir_bytes(ch_path),
    }
    # DuckDB as shipped (its exact rollups answer most panels) and on raw events only (the
    # same work ClickHouse does), both beside ClickHouse.
    walls: dict[str, list[float]] = {
        "duckdb": [],
        "duckdb_raw": [],
        args.store: [],
        f"{args.store}_raw": [],
    }
    answers: dict[str, Any] = {}
    duck_store, duck_runner = open_runner(manifest, root, args.duckdb_threads)
    from footfall.query.runner import QueryRunner

    benches = {"duckdb": in_process(duck_runner, site, queries),
               "duckdb_raw": in_process(QueryRunner(duck_store, rollups=False), site, queries)}  # fmt: skip
    try:
        with clickhouse_runner(args.store, ch_path) as (ch_store, ch_runner):
            benches[args.store] = in_process(ch_runner, site, queries)
            # The same store without its daily rollups: what they save, in the same run.
            benches[f"{args.store}_raw"] = in_process(
                QueryRunner(ch_store, rollups=False), site, queries
            )
            rows = ch_store.query(
                "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = currentDatabase()"
            )
            out["bytes"]["clickhouse"] = int(rows[0][0])  # active parts (old ones linger a while)
            for bench in benches.values():  # first loads warm each engine's caches
                bench.parallel()
                bench.cpu.clear()
            for _ in range(args.reps):
                for name, bench in benches.items():
                    wall, _, results = bench.parallel()
                    walls[name].append(wall)
                    answers[name] = results
            out["sequential"] = _per_query(benches, args.reps, log)
    finally:
        for bench in benches.values():
            bench.close()
        duck_store.close()
    differ = [
        q for q, _ in queries if _strip(answers["duckdb"][q]) != _strip(answers[args.store][q])
    ]
    out.update(
        walls=walls,
        differ=differ,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    # Process CPU per set (every thread; robust when other work shares the machine).
    cpu = {k: pct(b.cpu, 0.5) for k, b in benches.items()}
    out["cpu_p50"] = cpu
    p95 = {k: pct(v, 0.95) for k, v in walls.items()}
    out["p95"] = p95
    out["ratio_p95"] = p95[args.store] / p95["duckdb"]
    out["ratio_p95_raw"] = p95[args.store] / p95["duckdb_raw"]
    log(
        "parallel set p50/p95: "
        + ", ".join(f"{k} {pct(v, 0.5) * 1e3:.0f}/{p95[k] * 1e3:.0f} ms" for k, v in walls.items())
        + f"; ratio p95 {out['ratio_p95']:.2f} (to DuckDB raw {out['ratio_p95_raw']:.2f}); "
        f"answers differ: {differ or 'none'}; "
        f"bytes duckdb {out['bytes']['duckdb'] / 1e6:,.0f} MB, clickhouse {out['bytes']['clickhouse'] / 1e6:,.0f} MB; "
        f"peak RSS {out['peak_rss_mb']:,.0f} MB; CPU per set p50: "
        + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in cpu.items())
        + f" (ratio {cpu[args.store] / cpu['duckdb']:.2f}, to raw {cpu[args.store] / cpu['duckdb_raw']:.2f})"
    )
    return out


def _per_query(benches: dict[str, Any], reps: int, log: Any) -> dict[str, dict[str, Any]]:
    """Each query alone, one after another: median wall and process CPU (every thread) of
    ``reps`` runs, in ms: which panels a store spends its time on."""
    import statistics

    out: dict[str, dict[str, Any]] = {}
    for name, bench in benches.items():
        runs: dict[str, list[tuple[float, float]]] = {q: [] for q, _ in bench.queries}
        for _ in range(reps):
            for q, body in bench.queries:
                c = time.process_time()
                wall, _ = bench.one(body)
                runs[q].append((wall * 1e3, (time.process_time() - c) * 1e3))
        out[name] = {q: {"wall_ms": statistics.median(w for w, _ in r),
                         "cpu_ms": statistics.median(c for _, c in r)} for q, r in runs.items()}  # fmt: skip
    for name, per in out.items():
        log(f"{name} alone, per query wall/CPU ms: "
            + ", ".join(f"{q} {v['wall_ms']:.0f}/{v['cpu_ms']:.0f}" for q, v in per.items())
            + f"; sum {sum(v['wall_ms'] for v in per.values()):.0f}/"
            f"{sum(v['cpu_ms'] for v in per.values()):.0f}")  # fmt: skip
    return out


def _strip(result: dict[str, Any]) -> Any:
    """What a user sees of an answer (not its timing or plan notes)."""
    return result.get("results")
