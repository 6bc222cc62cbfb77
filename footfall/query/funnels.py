"""Funnels: how many visitors completed goals in order (docs/design.md "Metric definitions").

A visitor reaches step k of a funnel when, inside the period and within the funnel's
conversion window of an event that completes step 1 (N hours by the same visitor, 24 by
default; or the same visit), they have events completing steps 2..k in that order, each
strictly later than the one before (so one event never counts for two steps). For one
start, taking the earliest later event of each next step is never worse than any other
choice, so a chain of joins that keeps, per step-1 event, the earliest match of each next
step finds every start's longest chain; a visitor's furthest step is the best of their
starts. That is ClickHouse's ``windowFunnel(window, 'strict_increase')``, in standard SQL.

The figures follow Plausible's funnel report: conversion to the first step's visitors,
step conversion and drop-off to the previous step's, entering to all the period's
visitors. Each step also has the median time from the step before (per visitor, the
shortest gap over their starts; the median over visitors, interpolated), and the funnel
can be broken down by one dimension (the value of the event that started the funnel:
a visitor whose starts differ counts in each) and compared with another period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from footfall.ingest.validate import FieldError
from footfall.query import builder, rollup
from footfall.query.dimensions import dimension
from footfall.query.metrics import percent_change
from footfall.query.model import Filter, Logical
from footfall.query.period import Period, shifted
from footfall.query.reports import Scope, period_of, query
from footfall.query.runner import QueryRunner

WINDOW_SECONDS = 86_400
COMPARE = ("previous_period", "year_over_year")


@dataclass(frozen=True, slots=True)
class Step:
    label: str
    filters: list[Any]  # v2 filters, all of which an event must match (a goal's)


def _one(filters: tuple[Filter, ...]) -> Filter:
    return filters[0] if len(filters) == 1 else Logical("and", filters)


def statement(
    s: builder.Scope, steps: list[Filter], filters: tuple[Filter, ...],
    window_seconds: int = WINDOW_SECONDS, by: str | None = None, everyone: bool = True,
) -> builder.Statement:  # fmt: skip
    """Rows ``(k, value, visitors, median ms)``: k = 0 for all the period's visitors (with
    ``filters``), k = 1..n for the visitors who reached at least step k, per value of the
    dimension ``by`` ('' without one); the median gap from step k-1 (k >= 2).
    ``window_seconds`` 0: the later steps must be in the first step's visit. Without
    ``everyone``, no k = 0 rows (the caller has them from the rollups)."""
    d = s.dialect
    where, wparams = builder.where(s, filters, "events")
    found = builder.dim_sql(s, by, "events") if by else None
    value, vparams = found if found else ("''", [])
    conds = [builder.filter_sql(s, f, "events") for f in steps]
    flags = ", ".join(f"{sql} AS s{i}" for i, (sql, _) in enumerate(conds, 1))
    any_step = " OR ".join(f"s{i}" for i in range(1, len(steps) + 1))
    params: list[object] = [*vparams, *(p for _, ps in conds for p in ps), *wparams]
    within = (
        "m.session_id = c.session_id"
        if window_seconds == 0
        else f"m.ts <= {d.add_seconds('c.t1', window_seconds)}"
    )
    ctes = [  # each step's condition is evaluated once per event, as its flag
        f"m AS {d.materialized}(SELECT * FROM (SELECT visitor_id, session_id, ts, {value} AS v, "
        f"{flags} FROM events WHERE {where}) WHERE {any_step})",
        "c1 AS (SELECT visitor_id, session_id, v, ts AS t1, ts AS tp, ts AS t FROM m WHERE s1)",
    ]
    for k in range(2, len(steps) + 1):
        ctes.append(
            f"c{k} AS (SELECT c.visitor_id, c.session_id, c.v, c.t1, c.t AS tp, min(m.ts) AS t "
            f"FROM c{k - 1} c JOIN m ON m.visitor_id = c.visitor_id AND m.s{k} AND m.ts > c.t "
            f"AND {within} GROUP BY c.visitor_id, c.session_id, c.v, c.t1, c.t)"
        )
    gap = d.millis_between("tp", "t")
    per = " UNION ALL ".join(
        f"SELECT {k} AS k, visitor_id, v, min({gap}) AS g FROM c{k} GROUP BY visitor_id, v"
        for k in range(1, len(steps) + 1)
    )
    ctes.append(f"per AS ({per})")
    steps_sql = f"SELECT k, v, count(*), {d.quantile('g', 0.5)} FROM per GROUP BY k, v"
    if not everyone:
        return builder.Statement("WITH " + ",\n".join(ctes) + "\n" + steps_sql, params,
                                 ("n", "med"))  # fmt: skip
    sql = (
        "WITH " + ",\n".join(ctes) + "\n"
        f"SELECT 0 AS k, {value} AS v, {d.count_distinct('visitor_id')} AS n, 0.0 AS med "
        # Without a breakdown, one distinct count (grouping by a constant cost twice that).
        f"FROM events WHERE {where}{' GROUP BY v' if by else ''}\nUNION ALL {steps_sql}"
    )
    return builder.Statement(sql, [*params, *vparams, *wparams], ("n", "med"))


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0  # docs/design.md: at most one decimal


def _figures(labels: list[str], counts: dict[int, tuple[int, Any]]) -> dict[str, Any]:
    """The report of one group: every step's visitors, rates, drop-off and median gap."""
    everyone, first = counts.get(0, (0, None))[0], counts.get(1, (0, None))[0]
    out = []
    previous: int | None = None
    for k, label in enumerate(labels, 1):
        n, med = counts.get(k, (0, None))
        dropoff = 0 if previous is None else previous - n
        out.append({
            "label": label,
            "visitors": n,
            "conversion_rate": _pct(n, first),
            "conversion_rate_step": _pct(n, first if previous is None else previous),
            "dropoff": dropoff,
            "dropoff_percentage": _pct(dropoff, previous or 0),
            "median_seconds": None if k == 1 or med is None else round(float(med) / 1000),
        })  # fmt: skip
        previous = n
    return {
        "all_visitors": everyone,
        "entering_visitors": first,
        "entering_visitors_percentage": _pct(first, everyone),
        "never_entering_visitors": everyone - first,
        "never_entering_visitors_percentage": _pct(everyone - first, everyone),
        "steps": out,
    }


def _run(
    runner: QueryRunner, scope: Scope, p: Period, steps: list[Step], window: int, by: str | None
) -> dict[str, dict[int, tuple[int, Any]]]:
    """Per dimension value (its label), k -> (visitors, median ms)."""
    bare = Scope(scope.site, scope.date_range, scope.date)
    step_filters = [_one(query(bare, filters=st.filters).filters) for st in steps]
    zone = ZoneInfo(scope.site.timezone)
    s = builder.Scope(scope.site.id, p.start_utc, p.end_utc, zone, runner.dialect, None)
    filters = query(scope).filters
    # All the period's visitors (k = 0) are the site's visitors metric: from the exact
    # rollups when they can answer it (docs/design.md "Rollups"), else in the statement.
    dims = (by,) if by else ()
    plan = rollup.plan(runner.store, s, ["visitors"], dims, filters) if runner.rollups else None
    st = statement(s, step_filters, filters, window, by, everyone=plan is None)
    out: dict[str, dict[int, tuple[int, Any]]] = {}
    if plan is not None:
        for *v, n in rollup.fetch(runner.store, s, plan, ["visitors"]):
            key = dimension(by).label(v[0]) if by else ""
            out.setdefault(key, {})[0] = (int(n or 0), None)
    for k, v, n, med in runner.store.query(st.sql, st.params):
        key = dimension(by).label(v) if by else ""
        out.setdefault(key, {})[int(k)] = (int(n), med)
    return out


def report(
    runner: QueryRunner, scope: Scope, steps: list[Step], window_hours: int = 24,
    by: str | None = None, compare: str | None = None, limit: int = 10,
) -> dict[str, Any]:  # fmt: skip
    """The funnel over the report scope's period and filters, per step and overall; per
    value of ``by`` (most entering visitors first) and against a ``compare`` period."""
    if by is not None:
        try:
            dim = dimension(by)
        except FieldError:
            raise FieldError("breakdown", f"unknown dimension {by!r}") from None
        if by.startswith("time") or dim.events is None or dim.prop_key is not None:
            raise FieldError("breakdown", f"{by} cannot break a funnel down; use a visit dimension")
    if compare is not None and compare not in COMPARE:
        raise FieldError("compare", f"use one of {', '.join(COMPARE)}")
    p = period_of(runner, scope)
    labels = [st.label for st in steps]
    window = window_hours * 3600
    out: dict[str, Any] = {
        "date_range": [p.first.isoformat(), p.last.isoformat()],
        "window": "visit" if window == 0 else f"{window_hours}h",
        **_figures(labels, _run(runner, scope, p, steps, window, None).get("", {})),
    }
    if compare is not None:
        cp = shifted(p, compare, scope.site.timezone)
        before = _figures(labels, _run(runner, scope, cp, steps, window, None).get("", {}))
        for now, then in zip(out["steps"], before["steps"], strict=True):
            change = percent_change(now["visitors"], then["visitors"])
            now["comparison"] = {
                "visitors": then["visitors"],
                "conversion_rate": then["conversion_rate"],
                "change": change,
            }
        out["comparison"] = {"date_range": [cp.first.isoformat(), cp.last.isoformat()],
                             **{k: v for k, v in before.items() if k != "steps"}}  # fmt: skip
    if by is not None:
        groups = _run(runner, scope, p, steps, window, by)
        rows = sorted(((v, _figures(labels, c)) for v, c in groups.items()),
                      key=lambda r: (-r[1]["entering_visitors"], r[0]))  # fmt: skip
        out["breakdown"] = {
            "dimension": by,
            "results": [{"value": v, **f} for v, f in rows if f["all_visitors"]][:limit],
        }
    return out
