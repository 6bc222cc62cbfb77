# ruff: noqa: E501
"""Median over several ``bench/query.py --json`` runs (the machine is shared and noisy).

    .venv/bin/python bench/query_summary.py RUN.json [RUN.json ...]

Each figure is first reduced within a run (p50 or p95 over its repetitions), then the
median over runs is printed with the lowest and highest run in brackets.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from query import pct  # noqa: E402


def main(paths: list[str]) -> None:
    runs = [json.load(open(p)) for p in paths]  # noqa: SIM115

    def line(
        label: str, values: Sequence[float | None], unit: str = "ms", scale: float = 1000
    ) -> None:
        vals = [v * scale for v in values if v is not None and v == v]
        if not vals:
            return
        med = statistics.median(vals)
        print(f"  {label:<46}{med:>10,.0f} {unit:<4} [{min(vals):,.0f} .. {max(vals):,.0f}]")

    def get(r: dict[str, Any], *keys: str) -> Any:
        for k in keys:
            if not isinstance(r, dict) or k not in r:
                return None
            r = r[k]
        return r

    m = runs[0]["manifest"]
    print(f"{len(runs)} runs; {m['events']:,} events, {m['sessions']:,} visits, {m['visitors']:,} "
          f"visitors; load average at start {[round(r['load'][0], 1) for r in runs]}")  # fmt: skip
    names = [q[0] for q in runs[0]["queries"]]
    print("per query, in process, one after another (p50 within a run):")
    for n in names:
        line(n, [pct(r["in_process"]["per_query"][n], 0.5) for r in runs])
    print("whole set:")
    for label, key in (("in process, one after another p50", "seq_walls"),
                       ("in process, parallel x6 p50", "par_walls")):  # fmt: skip
        line(label, [pct(r["in_process"][key], 0.5) for r in runs])
    line("in process, parallel x6 p95", [pct(r["in_process"]["par_walls"], 0.95) for r in runs])
    line(
        "  CPU per set, parallel (process time)",
        [pct(r["in_process"]["par_cpu"], 0.5) for r in runs],
    )
    line("  first set in the process", [r["in_process"]["first_set_s"] for r in runs])
    line(
        "cold: fresh process, set p50",
        [pct([c["set_s"] for c in r["cold"]], 0.5) if r.get("cold") else None for r in runs],
    )
    line(
        "cold: fresh process incl. start+open p50",
        [pct([c["process_s"] for c in r["cold"]], 0.5) if r.get("cold") else None for r in runs],
    )
    line(
        "HTTP parallel set p50",
        [pct(get(r, "http", "walls") or [], 0.5) if get(r, "http") else None for r in runs],
    )
    line(
        "HTTP parallel set p95",
        [pct(get(r, "http", "walls") or [], 0.95) if get(r, "http") else None for r in runs],
    )
    line("HTTP first set after server start", [get(r, "http", "first_set_s") for r in runs])
    line(
        "HTTP set while ingesting p50",
        [
            pct(get(r, "http", "ingest_busy", "set_walls") or [], 0.5)
            if get(r, "http", "ingest_busy")
            else None
            for r in runs
        ],
    )
    if any(get(r, "in_process", "proto") for r in runs):
        line(
            "PROTO rollups, one after another p50",
            [pct(get(r, "in_process", "proto", "seq_walls") or [], 0.5) for r in runs],
        )
        line(
            "PROTO rollups, parallel x6 p50",
            [pct(get(r, "in_process", "proto", "par_walls") or [], 0.5) for r in runs],
        )
        line(
            "PROTO rollups, parallel x6 p95",
            [pct(get(r, "in_process", "proto", "par_walls") or [], 0.95) for r in runs],
        )
        line(
            "  PROTO CPU per set, parallel",
            [pct(get(r, "in_process", "proto", "par_cpu") or [], 0.5) for r in runs],
        )
        print("PROTO per query, one after another (p50 within a run):")
        for n in names:
            line(n, [pct(get(r, "in_process", "proto", "per_query", n) or [], 0.5) for r in runs])
    print("plain scans (p50 within a run), and set p50 / scan p50:")
    for n in runs[0]["in_process"]["scans"]:
        line(n, [pct(r["in_process"]["scans"][n], 0.5) for r in runs])
        ratios = [
            pct(r["in_process"]["par_walls"], 0.5) / pct(r["in_process"]["scans"][n], 0.5)
            for r in runs
        ]
        line(f"  parallel set / {n}", ratios, "x", 1)
    print("ingest, events/s:")
    ingest_keys: tuple[tuple[str, tuple[str, ...]], ...] = (("alone: accepted", ("http", "ingest_idle", "accepted_eps")),
                       ("alone: written", ("http", "ingest_idle", "written_eps")),
                       ("dashboards loading: accepted", ("http", "ingest_busy", "accepted_eps")),
                       ("dashboards loading: written", ("http", "ingest_busy", "written_eps")),
                       ("one query at a time: accepted", ("http", "ingest_serial", "accepted_eps")),
                       ("one query at a time: written", ("http", "ingest_serial", "written_eps")),
                       ("empty store: accepted", ("empty_ingest", "accepted_eps")),
                       ("empty store: written", ("empty_ingest", "written_eps")))  # fmt: skip
    for ilabel, ikey in ingest_keys:
        line(ilabel, [get(r, *ikey) for r in runs], "ev/s", 1)


if __name__ == "__main__":
    main(sys.argv[1:])
