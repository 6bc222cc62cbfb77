"""New and returning visitors, and visits per person, over the people with a lasting
identity (docs/design.md "Metric definitions", returning visitors).

People are those of :mod:`footfall.query.retention`: the user id a visitor id's events
carry in the period, else the visitor id when it lasts; cookieless ids are never
counted, since a daily id makes everyone look new. A person is *returning* when one of
their visitor ids, or their user id, has an event on the site before the period starts
(whatever the filters), else *new*. Visits per person: their visits in the period (with
the filters) over the people counted.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from footfall.meta.salts import LASTING
from footfall.query import builder
from footfall.query.metrics import ratio
from footfall.query.reports import Scope, period_of, query
from footfall.query.runner import QueryRunner


def statement(s: builder.Scope, where: str, wparams: list[object]) -> builder.Statement:
    """Rows ``(seen before, visits)``, one per person."""
    d = s.dialect
    earlier = "site_id = ? AND ts < ?"
    sql = (
        f"WITH per AS {d.materialized}(SELECT visitor_id, max(coalesce(user_id, '')) AS uid, "
        f"{d.count_distinct('session_id')} AS visits FROM events WHERE {where} "
        "GROUP BY visitor_id), "
        "who AS (SELECT visitor_id, uid, visits FROM per WHERE uid <> '' OR visitor_id >= ?), "
        f"vbefore AS (SELECT DISTINCT visitor_id FROM events WHERE {earlier} "
        "AND visitor_id IN (SELECT visitor_id FROM who)), "
        f"ubefore AS (SELECT DISTINCT user_id FROM events WHERE {earlier} "
        "AND user_id IN (SELECT uid FROM who WHERE uid <> '')) "
        "SELECT max(seen), sum(visits) FROM (SELECT uid AS pu, "
        "CASE WHEN uid <> '' THEN 0 ELSE visitor_id END AS pv, visits, "
        "CASE WHEN visitor_id IN (SELECT visitor_id FROM vbefore) "
        "OR uid IN (SELECT user_id FROM ubefore) THEN 1 ELSE 0 END AS seen FROM who) AS p "
        "GROUP BY pu, pv"
    )
    params = [*wparams, LASTING, s.site_id, s.start, s.site_id, s.start]
    return builder.Statement(sql, params, ("seen", "visits"))


def report(runner: QueryRunner, scope: Scope) -> dict[str, Any]:
    p = period_of(runner, scope)
    zone = ZoneInfo(scope.site.timezone)
    s = builder.Scope(scope.site.id, p.start_utc, p.end_utc, zone, runner.dialect, None)
    where, wparams = builder.where(s, query(scope).filters, "events")
    st = statement(s, where, wparams)
    rows = runner.store.query(st.sql, st.params)
    people = len(rows)
    returning = sum(1 for seen, _ in rows if int(seen))
    visits = sum(int(v) for _, v in rows)
    return {
        "date_range": [p.first.isoformat(), p.last.isoformat()],
        "eligible_visitors": people,
        "new_visitors": people - returning,
        "returning_visitors": returning,
        "returning_percentage": ratio(100 * returning, people, 1),
        "visits_per_visitor": ratio(100 * visits, 100 * people, 2) if people else 0.0,
    }
