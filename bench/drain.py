"""Writer drain benchmark: N spool records (the bench corpus) drained by ``run_once``.

Builds a fresh data directory, appends ``--records`` records straight into the spool
(the same records as bench/ingest.py's in-process drain: 5,000 corpus templates, 50,000
visitors, spread over two hours, so most batches touch visits stored by earlier ones),
by default 1.2M of them: several rounds of either store's own size (a backlog; one round
alone touches no stored visit and pays its fixed costs once), then times the writer's
rounds until the spool is empty, and the checkpoint after them.
Prints events/s (wall) and CPU µs per event (``time.process_time``, all threads of this
process: the figure that is robust when other work shares the machine). ``--repeat`` runs
the whole thing several times and reports medians. ``--profile`` adds the wall time per
SQL statement of the store's write path and per Python step of the round.

    .venv/bin/python bench/drain.py [--records 1200000] [--repeat 3] [--batch-size N]
                                    [--profile] [--cprofile FILE] [--source memory|files]
                                    [--store duckdb|chdb|both]

``--store chdb`` drains into the ClickHouse store in process (FOOTFALL_STORE_URL=chdb://);
``both`` alternates the two stores run by run and prints the ratio of their medians.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import DOMAIN, Corpus  # noqa: E402

SQL_TIMES: dict[str, list[float]] = defaultdict(list)
SQL_CPU: dict[str, list[float]] = defaultdict(list)  # process CPU (every thread) per call


class TimingCursor:
    """Wraps a DuckDB cursor: wall time per statement, keyed by its first words."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Any = None) -> Any:
        key = " ".join(sql.split())[:70]
        began, cpu = time.perf_counter(), time.process_time()
        out = self._cur.execute(sql, params) if params is not None else self._cur.execute(sql)
        SQL_TIMES[key].append(time.perf_counter() - began)
        SQL_CPU[key].append(time.process_time() - cpu)
        return out

    def sql(self, sql: str, *args: Any) -> Any:
        return TimingRelation(self._cur.sql(sql, *args), "rel " + " ".join(sql.split())[:66])

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._cur, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            began, cpu = time.perf_counter(), time.process_time()
            out = attr(*args, **kwargs)
            SQL_TIMES[f"<{name}>"].append(time.perf_counter() - began)
            SQL_CPU[f"<{name}>"].append(time.process_time() - cpu)
            return out

        return timed


class TimingRelation:
    """Wraps a DuckDB relation: its ``to_arrow_table`` (where it runs) is timed."""

    def __init__(self, rel: Any, key: str) -> None:
        self._rel, self._key = rel, key

    def to_arrow_table(self) -> Any:
        began, cpu = time.perf_counter(), time.process_time()
        out = self._rel.to_arrow_table()
        SQL_TIMES[self._key].append(time.perf_counter() - began)
        SQL_CPU[self._key].append(time.process_time() - cpu)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rel, name)


class TimingTransport:
    """Wraps a ClickHouse store's transport: wall time per call, keyed by the call and the
    statement's first words (or the table an insert goes to)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _timed(self, key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        began, cpu = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        SQL_TIMES[key].append(time.perf_counter() - began)
        SQL_CPU[key].append(time.process_time() - cpu)
        return out

    def command(self, sql: str, *args: Any) -> Any:
        key = "ch command " + " ".join(sql.split())[:58]
        return self._timed(key, self._inner.command, sql, *args)

    def arrow(self, sql: str, *args: Any) -> Any:
        key = "ch arrow " + " ".join(sql.split())[:60]
        return self._timed(key, self._inner.arrow, sql, *args)

    def insert(self, table: str, data: Any, token: str = "") -> Any:
        key = f"ch insert {table.split('_')[0] if 'stage' in table else table}"
        return self._timed(key, self._inner.insert, table, data, token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def fill(svc: Any, n: int, seed: int = 11) -> None:
    from footfall.ingest.pipeline import Dropped
    from footfall.ingest.record import ENCODER, SpoolRecord
    from footfall.ingest.validate import decode_event

    corpus = Corpus()
    _, key = svc.meta.create_site("drain", [DOMAIN], "UTC")
    site = svc.pipeline.authenticate(key)
    templates: list[SpoolRecord] = []
    for _ in range(5000):
        ev = corpus.event()
        ev.pop("timestamp", None)
        rec = svc.pipeline.build(decode_event(ev), site, ev["ip"], ev["user_agent"])
        if not isinstance(rec, Dropped):
            templates.append(rec)
    rng = random.Random(seed)
    visitors = [rng.getrandbits(63) for _ in range(50_000)]
    span_ms = 2 * 3600_000
    t_start = int(time.time() * 1000) - span_ms - 60_000
    run = rng.getrandbits(32)
    chunk: list[bytes] = []
    replace = msgspec.structs.replace
    for i in range(n):
        rec = replace(
            templates[i % len(templates)],
            event_id=f"{run:08x}-0000-4000-8000-{i:012x}",
            ts=t_start + i * span_ms // n,
            visitor_id=visitors[rng.randrange(len(visitors))],
        )
        chunk.append(ENCODER.encode(rec))
        if len(chunk) == 10_000:
            svc.queue.append_sync(chunk)
            chunk = []
    svc.queue.append_sync(chunk)


def one_run(
    n: int, batch_size: int | None, profile: bool, cprofile: str | None, source: str,
    store_url: str = "",
) -> dict[str, Any]:  # fmt: skip
    from footfall.config import Settings
    from footfall.ingest.batch import steps as duckdb_write
    from footfall.runtime import Services

    tmp = Path(tempfile.mkdtemp(prefix="footfall-bench-drain-"))
    real_write = duckdb_write.write
    try:
        # "memory": the whole backlog is among the spool's kept rounds, as when the writer
        # keeps up with live traffic; "files": read back from the segment files, as after
        # a restart or a backlog larger than FOOTFALL_SPOOL_RECENT_BYTES.
        recent = 0 if source == "files" else 4 << 30
        svc = Services.build(
            Settings(data_dir=tmp / "data", spool_recent_bytes=recent, store_url=store_url)
        )
        try:
            caps = svc.store.capabilities
            if caps.daily_rollups:  # as the server's rollups job does right after start
                from footfall.query.dialects import DIALECTS
                from footfall.query.rollup import spec

                svc.store.maintain_rollups({}, spec(DIALECTS[caps.sql_dialect]))
            fill(svc, n)
            writer = svc.writer
            writer.enricher.warm()  # as Writer.start() does when the server starts
            if batch_size:
                writer.batch_size = batch_size
            if profile:

                def timed_write(target: Any, *args: Any) -> Any:
                    target.cur = TimingCursor(target.cur)
                    return real_write(target, *args)

                duckdb_write.write = timed_write  # type: ignore[assignment]
                if hasattr(svc.store, "_transport"):  # the ClickHouse store's calls too
                    svc.store._transport = TimingTransport(svc.store._transport)
            prof = None
            if cprofile:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            rounds = total = 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            while got := writer.run_once():
                rounds += 1
                total += got
            # Folding the WAL into the file (the writer's next idle round) is part of the
            # cost of the events written, so it is timed too.
            svc.store.idle()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            if prof is not None:
                prof.disable()
                prof.dump_stats(cprofile)
            written = writer.stats.events_written
            stored = svc.store.query("SELECT count(*) FROM events")[0][0]
        finally:
            duckdb_write.write = real_write
            svc.store.close()
            svc.meta.close()
            svc.queue.close_sync()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "records": total, "written": written, "stored": stored, "rounds": rounds,
        "wall_s": wall, "cpu_s": cpu, "eps": total / wall, "cpu_us": cpu / total * 1e6,
        # The process's peak so far (Linux: KiB): with --repeat, the largest run's.
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=None, help="override the writer's")
    ap.add_argument("--profile", action="store_true", help="wall time per SQL statement")
    ap.add_argument("--cprofile", default=None, help="dump cProfile stats of the last run here")
    ap.add_argument(
        "--source", choices=("memory", "files"), default="memory",
        help="where the writer reads the backlog: the spool's kept rounds (live) or its files",
    )  # fmt: skip
    ap.add_argument("--store", choices=("duckdb", "chdb", "both"), default="duckdb")
    args = ap.parse_args()
    stores = ["duckdb", "chdb"] if args.store == "both" else [args.store]
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in stores}
    for i in range(args.repeat):
        last = i == args.repeat - 1
        for store in stores:  # alternated, so both see the same machine load
            r = one_run(
                args.records, args.batch_size, args.profile, args.cprofile if last else None,
                args.source, "chdb://" if store == "chdb" else "",
            )  # fmt: skip
            runs[store].append(r)
            print(
                f"run {i + 1} {store}: {r['records']:,} records ({r['written']:,} written, "
                f"{r['stored']:,} stored, {r['rounds']} rounds) in {r['wall_s']:.2f} s: "
                f"{r['eps']:,.0f} ev/s, {r['cpu_us']:.2f} µs CPU/event, "
                f"peak RSS {r['peak_mb']:,.0f} MB"
            )
    medians = {}
    for store, rs in runs.items():
        eps = statistics.median(r["eps"] for r in rs)
        cpu = statistics.median(r["cpu_us"] for r in rs)
        medians[store] = eps
        print(f"median {store}: {eps:,.0f} events/s, {cpu:.2f} µs CPU/event")
    if len(medians) == 2:
        print(f"ratio chdb / duckdb: {medians['chdb'] / medians['duckdb']:.2f}")
    if args.profile:
        total = sum(sum(v) for v in SQL_CPU.values())
        print(
            f"\nper statement (CPU of every thread, and wall; all {args.repeat} runs, "
            f"{total:.2f} s CPU in SQL):"
        )
        for key, cpus in sorted(SQL_CPU.items(), key=lambda kv: -sum(kv[1])):
            share = 100 * sum(cpus) / total
            print(
                f"  {sum(cpus):6.2f} s CPU {share:5.1f} % {sum(SQL_TIMES[key]):6.2f} s wall  "
                f"n={len(cpus):3d}  {key}"
            )


if __name__ == "__main__":
    main()
