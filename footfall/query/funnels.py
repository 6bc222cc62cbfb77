"""Funnels: how many visitors completed goals in order (docs/design.md "Metric definitions").

A visitor reaches step k of a funnel when, inside the period and within 24 hours of an
event that completes step 1, they have events completing steps 2..k in that order, each
strictly later than the one before (so one event never counts for two steps). For one
start, taking the earliest later event of each next step is never worse than any other
choice, so a chain of joins that keeps, per step-1 event, the earliest match of each next
step finds every start's longest chain; a visitor's furthest step is the best of their
starts. That is ClickHouse's ``windowFunnel(86400, 'strict_increase')``, in standard SQL.

The figures follow Plausible's funnel report: conversion to the first step's visitors,
step conversion and drop-off to the previous step's, entering to all the period's visitors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from footfall.query import builder
from footfall.query.model import Filter, Logical
from footfall.query.reports import Scope, period_of, query
from footfall.query.runner import QueryRunner

WINDOW_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    filters: list[Any]  # v2 filters, all of which an event must match (a goal's)


def _one(filters: tuple[Filter, ...]) -> Filter:
    return filters[0] if len(filters) == 1 else Logical("and", filters)


def statement(
    s: builder.Scope, steps: list[Filter], filters: tuple[Filter, ...]
) -> builder.Statement:
    """Rows ``(k, visitors)``: k = 0 for all the period's visitors (with ``filters``),
    k = 1..n for the visitors who reached at least step k."""
    d = s.dialect
    where, wparams = builder.where(s, filters, "events")
    conds = [builder.filter_sql(s, f, "events") for f in steps]
    flags = ", ".join(f"{sql} AS s{i}" for i, (sql, _) in enumerate(conds, 1))
    any_step = " OR ".join(f"s{i}" for i in range(1, len(steps) + 1))
    params: list[object] = [p for _, ps in conds for p in ps] + wparams
    ctes = [  # each step's condition is evaluated once per event, as its flag
        f"m AS {d.materialized}(SELECT * FROM (SELECT visitor_id, ts, {flags} FROM events "
        f"WHERE {where}) WHERE {any_step})",
        "c1 AS (SELECT visitor_id, ts AS t1, ts AS t FROM m WHERE s1)",
    ]
    for k in range(2, len(steps) + 1):
        ctes.append(
            f"c{k} AS (SELECT c.visitor_id, c.t1, min(m.ts) AS t FROM c{k - 1} c "
            f"JOIN m ON m.visitor_id = c.visitor_id AND m.s{k} AND m.ts > c.t "
            f"AND m.ts <= {d.add_seconds('c.t1', WINDOW_SECONDS)} GROUP BY c.visitor_id, c.t1)"
        )
    counts = [f"SELECT 0 AS k, {d.count_distinct('visitor_id')} AS n FROM events WHERE {where}"]
    params += wparams
    counts += [
        f"SELECT {k}, {d.count_distinct('visitor_id')} FROM c{k}" for k in range(1, len(steps) + 1)
    ]
    sql = "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL ".join(counts)
    return builder.Statement(sql, params, ("n",))


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0  # docs/design.md: at most one decimal


def report(runner: QueryRunner, scope: Scope, steps: list[Step]) -> dict[str, Any]:
    """The funnel over the report scope's period and filters, per step and overall."""
    p = period_of(runner, scope)
    bare = Scope(scope.site, scope.date_range, scope.date)
    step_filters = [_one(query(bare, filters=st.filters).filters) for st in steps]
    filters = query(scope).filters
    s = builder.Scope(
        scope.site.id, p.start_utc, p.end_utc, ZoneInfo(scope.site.timezone), runner.dialect, None
    )
    st = statement(s, step_filters, filters)
    counts = {int(k): int(n) for k, n in runner.store.query(st.sql, st.params)}
    everyone = counts.get(0, 0)
    first = counts.get(1, 0)
    out = []
    previous: int | None = None
    for k, step in enumerate(steps, 1):
        n = counts.get(k, 0)
        dropoff = 0 if previous is None else previous - n
        out.append({
            "label": step.label,
            "visitors": n,
            "conversion_rate": _pct(n, first),
            "conversion_rate_step": _pct(n, first if previous is None else previous),
            "dropoff": dropoff,
            "dropoff_percentage": _pct(dropoff, previous or 0),
        })  # fmt: skip
        previous = n
    return {
        "date_range": [p.first.isoformat(), p.last.isoformat()],
        "all_visitors": everyone,
        "entering_visitors": first,
        "entering_visitors_percentage": _pct(first, everyone),
        "never_entering_visitors": everyone - first,
        "never_entering_visitors_percentage": _pct(everyone - first, everyone),
        "steps": out,
    }
