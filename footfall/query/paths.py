"""Paths: where visitors went after (or came from before) a page, and the most common
paths from an entry page, as a tree (docs/design.md "Metric definitions", paths).

A visit's path is its pageviews in time order (ties by path, the same on both stores),
with a page viewed again right after itself (a reload) counted once: ``/a /a /b`` is the
path ``/a /b``. The next page of a pageview is the following page of that path in the
same visit, the previous page the one before; a pageview with no next page is the visit's
exit, one with no previous page its entry. Filters keep whole visits (those that started
in the period and pass them), as the visits list does.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from footfall.ingest.validate import FieldError
from footfall.query import builder
from footfall.query.model import Filter
from footfall.query.reports import Scope, period_of, query
from footfall.query.runner import QueryRunner

DIRECTIONS = ("next", "previous")
MAX_DEPTH = 5


def _pageviews(
    s: builder.Scope, filters: tuple[Filter, ...], visits: tuple[str, list[object]], more: str
) -> tuple[str, list[object]]:
    """CTE ``pv``: the pageviews in range of the visits ``visits`` selects, each with
    ``prv`` and ``nxt``, the pageview before and after it in its visit (NULL at the
    visit's ends), and the window expressions ``more``: one window pass (a second one,
    over the path with reloads dropped, cost more than the scan; bench/product.py).

    A reload repeats the page before it, so the path's steps are the rows whose ``prv``
    differs (the first of each run of one page); a step's previous page is its ``prv``,
    and its next page is the ``nxt`` of its run's last row (the row whose ``nxt``
    differs)."""
    d = s.dialect
    order = "ts, pathname"  # ties by path, the same on both stores
    pageviews = "site_id = ? AND ts >= ? AND ts < ? AND name = 'pageview'"
    chosen, params = visits
    params = [s.site_id, s.start, s.end, *params]
    if filters:
        w, wparams = builder.where(s, filters, "sessions")
        chosen += f" AND session_id IN (SELECT session_id FROM sessions WHERE {w})"
        params += wparams
    sql = (
        f"pv AS (SELECT session_id, visitor_id, pathname, ts, "
        f"{d.prev_value('pathname', 'session_id', order)} AS prv, "
        f"{d.next_value('pathname', 'session_id', order)} AS nxt{more} FROM events "
        f"WHERE {pageviews} AND {chosen})"
    )
    return sql, params


def _viewing(s: builder.Scope, page: str) -> tuple[str, list[object]]:
    """The visits with a pageview of ``page`` in the range."""
    return (
        "session_id IN (SELECT session_id FROM events WHERE site_id = ? AND ts >= ? "
        "AND ts < ? AND name = 'pageview' AND pathname = ?)",
        [s.site_id, s.start, s.end, page],
    )


def _entering(s: builder.Scope, page: str) -> tuple[str, list[object]]:
    """The visits that started in the range on ``page`` (their first pageview is checked
    again on the rows: a visit's entry page is over all its events)."""
    return (
        "session_id IN (SELECT session_id FROM sessions WHERE site_id = ? AND start_ts >= ? "
        "AND start_ts < ? AND entry_page = ?)",
        [s.site_id, s.start, s.end, page],
    )


def _scope(runner: QueryRunner, scope: Scope) -> builder.Scope:
    p = period_of(runner, scope)
    zone = ZoneInfo(scope.site.timezone)
    return builder.Scope(scope.site.id, p.start_utc, p.end_utc, zone, runner.dialect, None)


def neighbours(
    runner: QueryRunner, scope: Scope, page: str, direction: str, limit: int
) -> dict[str, Any]:
    """The pages right after (``next``) or before (``previous``) ``page`` in its visits:
    visitors and transitions per page, most visitors first; ``exits`` (``next``) counts
    the visits that left on it, ``entries`` (``previous``) those that entered on it."""
    if direction not in DIRECTIONS:
        raise FieldError("direction", "use next or previous")
    if not page.startswith("/"):
        raise FieldError("page", "a path starting with /")
    s = _scope(runner, scope)
    ctes, params = _pageviews(s, query(scope).filters, _viewing(s, page), "")
    # The steps of ``page``: for next, the last row of each of its runs; for previous,
    # the first (see _pageviews).
    column = "nxt" if direction == "next" else "prv"
    sql = (
        f"WITH {ctes} SELECT {column}, {s.dialect.count_distinct('visitor_id')}, count(*) "
        f"FROM pv WHERE pathname = ? AND ({column} IS NULL OR {column} <> pathname) "
        f"GROUP BY {column}"
    )
    rows = runner.store.query(sql, [*params, page])
    ends = sum(int(n) for p, _, n in rows if p is None)
    found = sorted(
        ({"page": p, "visitors": int(v), "transitions": int(n)} for p, v, n in rows if p),
        key=lambda r: (-r["visitors"], -r["transitions"], r["page"]),
    )
    end = "exits" if direction == "next" else "entries"
    return {"page": page, "direction": direction, "results": found[:limit], end: ends}


def tree(runner: QueryRunner, scope: Scope, page: str, depth: int, limit: int) -> dict[str, Any]:
    """The paths of up to ``depth`` pages of the visits that entered on ``page``, as a
    tree: each node's ``visits`` went through it, ``exits`` of them ended there (or went
    on past ``depth``: ``continued``); at most ``limit`` children per node, most visits
    first."""
    if not page.startswith("/"):
        raise FieldError("page", "a path starting with /")
    if not 2 <= depth <= MAX_DEPTH:
        raise FieldError("depth", f"must be from 2 to {MAX_DEPTH}")
    s = _scope(runner, scope)
    d = s.dialect
    number = ", row_number() OVER (PARTITION BY session_id ORDER BY ts, pathname) AS rn"
    ctes, params = _pageviews(s, query(scope).filters, _entering(s, page), number)
    cols = ", ".join(f"{d.element('p', i)} AS p{i}" for i in range(1, depth + 2))
    later = ", ".join(f"p{i}" for i in range(2, depth + 2))
    sql = (
        # Each visit's first depth + 1 steps, in order (the smallest row numbers of its
        # steps), as one list per visit.
        f"WITH {ctes}, seqs AS (SELECT {d.first_values('pathname', 'rn', depth + 1)} AS p "
        "FROM pv WHERE prv IS NULL OR prv <> pathname GROUP BY session_id), "
        f"cols AS (SELECT {cols} FROM seqs) "
        f"SELECT {later}, count(*) FROM cols WHERE p1 = ? GROUP BY {later}"
    )
    root: dict[str, Any] = {"page": page, "visits": 0, "exits": 0, "children": {}}
    for row in runner.store.query(sql, [*params, page]):
        *pages, n = row
        node = root
        node["visits"] += int(n)
        for level, nxt in enumerate(pages):
            if nxt is None:
                node["exits"] += int(n)
                break
            if level == depth - 1:  # the page after the last one shown
                node["continued"] = node.get("continued", 0) + int(n)
                break
            kids = node["children"]
            node = kids.setdefault(nxt, {"page": nxt, "visits": 0, "exits": 0, "children": {}})
            node["visits"] += int(n)
    return {"depth": depth, "tree": _finish(root, limit)}


def _finish(node: dict[str, Any], limit: int) -> dict[str, Any]:
    kids = sorted(node["children"].values(), key=lambda k: (-k["visits"], k["page"]))
    return {
        "page": node["page"],
        "visits": node["visits"],
        "exits": node["exits"],
        "continued": node.get("continued", 0),
        "children": [_finish(k, limit) for k in kids[:limit]],
    }
