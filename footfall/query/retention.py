"""Retention cohorts: of the people first seen in each interval, how many came back in
each interval after it (docs/design.md "Metric definitions", retention).

Only a lasting identity can be followed across days: a ``user_id`` from ``identify``, or a
client-supplied (persistent) visitor id, whose visitor ids carry the LASTING bit
(:mod:`footfall.meta.salts`). A cookieless visitor id is a new one every day by design, so
it is never counted here: ``eligible_visitors`` says how many people were counted.

A person is the ``user_id`` a visitor id's events carry in the period (the largest, if
several), else the visitor id itself when it lasts. So a persistent browser that logs in
is one person, and so is a user whose first visit started anonymously. Each person's
active intervals (site-local day, Monday week or month) are found in one statement on
either store; cohorts and offsets are counted from those rows in Python.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from footfall.ingest.validate import FieldError
from footfall.meta.salts import LASTING
from footfall.query import builder
from footfall.query.metrics import ratio
from footfall.query.model import Filter
from footfall.query.period import Period
from footfall.query.reports import Scope, period_of, query
from footfall.query.runner import QueryRunner
from footfall.query.timebuckets import bucket_sql, label, labels

INTERVALS = ("day", "week", "month")
# Only these visitor ids can be a person: cookieless events are skipped before grouping
# (most of a cookieless site's rows), except those of a daily id that identified itself.
LASTING_OR_IDENTIFIED = (
    "(visitor_id >= ? OR visitor_id IN (SELECT visitor_id FROM events WHERE site_id = ? "
    "AND ts >= ? AND ts < ? AND user_id <> ''))"
)


def statement(s: builder.Scope, unit: str, filters: tuple[Filter, ...]) -> builder.Statement:
    """Rows ``(cohort bucket, active bucket, people)`` over the lasting identities."""
    bucket, bparams = bucket_sql(unit, "ts", s.zone, s.start, s.end, s.dialect)
    where, wparams = builder.where(s, filters, "events")
    sql = (
        f"WITH per AS {s.dialect.materialized}(SELECT visitor_id, "
        f"max(coalesce(user_id, '')) AS uid, {bucket} AS b FROM events "
        f"WHERE {where} AND {LASTING_OR_IDENTIFIED} GROUP BY visitor_id, b), "
        "who AS (SELECT visitor_id, max(uid) AS uid FROM per GROUP BY visitor_id), "
        # One person: the user id when the visitor id ever carried one, else the lasting
        # visitor id (0 stands for "by user id").
        "act AS (SELECT DISTINCT who.uid AS pu, "
        "CASE WHEN who.uid <> '' THEN 0 ELSE per.visitor_id END AS pv, per.b AS b "
        "FROM per JOIN who ON per.visitor_id = who.visitor_id "
        "WHERE who.uid <> '' OR per.visitor_id >= ?), "
        "firsts AS (SELECT pu, pv, min(b) AS c FROM act GROUP BY pu, pv) "
        "SELECT firsts.c, act.b, count(*) FROM act JOIN firsts "
        "ON act.pu = firsts.pu AND act.pv = firsts.pv GROUP BY firsts.c, act.b"
    )
    params = [*bparams, *wparams, LASTING, s.site_id, s.start, s.end, LASTING]
    return builder.Statement(sql, params, ("people",))


def _index(unit: str, first: date, day: date) -> int:
    """How many intervals ``day``'s bucket lies after ``first``'s."""
    if unit == "month":
        return (day.year - first.year) * 12 + day.month - first.month
    return (day - first).days // (7 if unit == "week" else 1)


def cohorts(
    rows: list[tuple[Any, Any, Any]], unit: str, p: Period
) -> tuple[int, list[dict[str, Any]]]:
    """``(eligible visitors, cohorts)`` from the statement's rows: one cohort per interval
    of the period, each with ``returning[k]`` for every interval k up to the period's end."""
    buckets = labels(unit, p.first, p.last)
    at = {b: i for i, b in enumerate(buckets)}
    counts: dict[str, dict[int, int]] = {b: {} for b in buckets}
    for c, b, n in rows:
        cohort, active = label(unit, c), label(unit, b)
        if cohort not in at or active not in at:
            continue  # an edge of the period's instants outside its day labels
        k = _index(unit, date.fromisoformat(cohort), date.fromisoformat(active))
        counts[cohort][k] = counts[cohort].get(k, 0) + int(n)
    out: list[dict[str, Any]] = []
    for i, b in enumerate(buckets):
        found = counts[b]
        returning = [found.get(k, 0) for k in range(len(buckets) - i)]
        size = returning[0]
        out.append({
            "cohort": b,
            "visitors": size,
            "returning": returning,
            "percentages": [ratio(100 * n, size, 1) for n in returning],
        })  # fmt: skip
    return sum(int(c["visitors"]) for c in out), out


def report(runner: QueryRunner, scope: Scope, interval: str) -> dict[str, Any]:
    """Cohorts by ``interval`` over the scope's period and filters."""
    if interval not in INTERVALS:
        raise FieldError("interval", f"use one of {', '.join(INTERVALS)}")
    p = period_of(runner, scope)
    if len(labels(interval, p.first, p.last)) > 400:
        raise FieldError("interval", "more than 400 cohorts; use a longer interval")
    s = builder.Scope(
        scope.site.id, p.start_utc, p.end_utc, ZoneInfo(scope.site.timezone), runner.dialect, None
    )
    st = statement(s, interval, query(scope).filters)
    eligible, out = cohorts(runner.store.query(st.sql, st.params), interval, p)
    return {
        "interval": interval,
        "date_range": [p.first.isoformat(), p.last.isoformat()],
        "eligible_visitors": eligible,
        "cohorts": out,
    }
