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

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from footfall.ingest.validate import FieldError
from footfall.meta.salts import LASTING
from footfall.query import builder
from footfall.query.dialects import Dialect
from footfall.query.metrics import ratio
from footfall.query.model import Filter
from footfall.query.period import Period
from footfall.query.reports import Scope, period_of, query
from footfall.query.runner import QueryRunner
from footfall.query.timebuckets import labels, local_time

INTERVALS = ("day", "week", "month")
EPOCH = date(1970, 1, 1)


def statement(
    s: builder.Scope, unit: str, filters: tuple[Filter, ...], first: date, n: int
) -> builder.Statement:
    """Rows ``(mask_0, ..., mask_w, people)``: how many people were active in exactly the
    intervals the masks' bits say (bit k of mask j: the period's interval 64 j + k).

    One pass over the events groups them by visitor id with each visitor's intervals as
    bits (grouping by (visitor, interval) took twice the CPU time); people are then
    the OR of their visitor ids' bits, and only the distinct patterns leave the engine."""
    d = s.dialect
    local, lparams = local_time("ts", s.zone, s.start, s.end, d)
    index = _index_sql(d, unit, "lt", first)
    where, wparams = builder.where(s, filters, "events")
    words = range((n + 63) // 64)
    width = len(words)
    bits = ", ".join(f"{d.bits_or(_word_bits(d, j, width))} AS m{j}" for j in words)
    ors = ", ".join(f"{d.bits_or(f'm{j}')} AS m{j}" for j in words)
    masks = ", ".join(f"m{j}" for j in words)
    sql = (
        # The visitor ids that identified themselves (few: most ids never do), and their
        # user id: the largest, if several.
        f"WITH ids AS {d.materialized}(SELECT visitor_id, max(user_id) AS uid FROM events "
        f"WHERE {where} AND user_id <> '' GROUP BY visitor_id), "
        # Only lasting ids can be followed, and daily ids that identified themselves (a
        # cookieless site's rows are mostly neither): two scans, so the semi-join probes
        # only the daily ids' rows.
        f"per AS (SELECT visitor_id, {bits} FROM (SELECT visitor_id, {index} AS k FROM "
        f"(SELECT visitor_id, {local} AS lt FROM events WHERE {where} AND visitor_id >= ? "
        f"UNION ALL SELECT visitor_id, {local} AS lt FROM events WHERE {where} "
        "AND visitor_id < ? AND visitor_id IN (SELECT visitor_id FROM ids)) AS e) AS i "
        "GROUP BY visitor_id), "
        # One person: the user id when the visitor id carried one, else the lasting visitor
        # id (0 stands for "by user id"; an id matching no user id has uid '' or NULL).
        f"people AS (SELECT {ors} FROM per LEFT JOIN ids ON per.visitor_id = ids.visitor_id "
        "GROUP BY coalesce(ids.uid, ''), "
        "CASE WHEN coalesce(ids.uid, '') <> '' THEN 0 ELSE per.visitor_id END) "
        f"SELECT {masks}, count(*) FROM people GROUP BY {masks}"
    )
    params = [*wparams, *lparams, *wparams, LASTING, *lparams, *wparams, LASTING]
    return builder.Statement(sql, params, ("people",))


def _word_bits(d: Dialect, j: int, width: int) -> str:
    """Bit ``k`` of mask ``j`` for an interval ``k`` in its 64, else 0 (the shift stays in
    0-63 on every row: engines differ past that)."""
    if width == 1:  # every interval's k is 0-63
        return d.bit("k")
    shift = f"(k + {64 * (width - j)}) % 64"
    return f"CASE WHEN k >= {64 * j} AND k < {64 * j + 64} THEN {d.bit(shift)} ELSE 0 END"


def _index_sql(d: Dialect, unit: str, local: str, first: date) -> str:
    """SQL for the period's interval (0, 1, ...) of the local time ``local``."""
    if unit == "month":
        return f"({d.month_number(local)} - {(first.year - 1970) * 12 + first.month - 1})"
    day = f"({d.day_number(local)} - {(first - EPOCH).days})"
    if unit == "day":
        return day
    monday = first - timedelta(days=first.weekday())
    return d.int_div(f"({d.day_number(local)} - {(monday - EPOCH).days})", 7)


def cohorts(rows: list[tuple[Any, ...]], unit: str, p: Period) -> tuple[int, list[dict[str, Any]]]:
    """``(eligible visitors, cohorts)`` from the statement's rows: one cohort per interval
    of the period, each with ``returning[k]`` for every interval k up to the period's end."""
    buckets = labels(unit, p.first, p.last)
    counts: list[dict[int, int]] = [{} for _ in buckets]
    for *words, n in rows:
        mask = sum(int(w) << (64 * j) for j, w in enumerate(words))
        active = [k for k in range(len(buckets)) if mask >> k & 1]
        if not active:
            continue
        first = counts[active[0]]
        for k in active:
            first[k - active[0]] = first.get(k - active[0], 0) + int(n)
    out: list[dict[str, Any]] = []
    for i, b in enumerate(buckets):
        found = counts[i]
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
    n = len(labels(interval, p.first, p.last))
    st = statement(s, interval, query(scope).filters, p.first, n)
    eligible, out = cohorts(runner.store.query(st.sql, st.params), interval, p)
    return {
        "interval": interval,
        "date_range": [p.first.isoformat(), p.last.isoformat()],
        "eligible_visitors": eligible,
        "cohorts": out,
    }
