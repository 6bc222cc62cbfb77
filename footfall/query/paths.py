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


ORDER = "ts, pathname"  # ties by path, the same on both stores


def _pageviews(
    s: builder.Scope, filters: tuple[Filter, ...], visits: tuple[str, list[object]], more: str
) -> tuple[str, list[object]]:
    """CTE ``pv``: ``session_id, pathname`` and the columns ``more`` (window expressions
    over the visit's pageviews in ``ORDER``, say) of the pageviews in range of the visits
    ``visits`` selects. One window pass: a second one, over the path with reloads
    dropped, cost more than the scan (bench/product.py).

    A reload repeats the page before it, so the path's steps are the rows whose previous
    pageview has another page (the first of each run of one page); a step's previous
    page is that row's, and its next page is the one after its run's last row (the row
    whose next pageview has another page)."""
    pageviews = "site_id = ? AND ts >= ? AND ts < ? AND name = 'pageview'"
    chosen, params = visits
    params = [s.site_id, s.start, s.end, *params]
    if filters:
        w, wparams = builder.where(s, filters, "sessions")
        chosen += f" AND session_id IN (SELECT session_id FROM sessions WHERE {w})"
        params += wparams
    sql = f"pv AS (SELECT session_id, pathname, {more} FROM events WHERE {pageviews} AND {chosen})"
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
    d = s.dialect
    # The steps of ``page``: for next, the last row of each of its runs; for previous,
    # the first (see _pageviews).
    column = "nxt" if direction == "next" else "prv"
    near = d.next_value if direction == "next" else d.prev_value
    more = f"visitor_id, {near('pathname', 'session_id', ORDER)} AS {column}"
    ctes, params = _pageviews(s, query(scope).filters, _viewing(s, page), more)
    sql = (
        f"WITH {ctes} SELECT {column}, {d.count_distinct('visitor_id')}, count(*) "
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
    more = (
        f"{d.prev_value('pathname', 'session_id', ORDER)} AS prv, "
        f"row_number() OVER (PARTITION BY session_id ORDER BY {ORDER}) AS rn"
    )
    ctes, params = _pageviews(s, query(scope).filters, _entering(s, page), more)
    cols = ", ".join(f"{d.element('p', i)} AS p{i}" for i in range(1, depth + 1))
    sql = (
        # Each visit's first depth + 1 steps, in order (the smallest row numbers of its
        # steps), as one list per visit; of the step past the last one shown, only
        # whether there is one.
        f"WITH {ctes}, seqs AS (SELECT {d.first_values('pathname', 'rn', depth + 1)} AS p "
        "FROM pv WHERE prv IS NULL OR prv <> pathname GROUP BY session_id), "
        f"v AS {d.materialized}(SELECT * FROM (SELECT {cols}, CASE WHEN "
        f"{d.element('p', depth + 1)} IS NULL THEN 0 ELSE 1 END AS more FROM seqs) AS c "
        f"WHERE p1 = ?), {_levels(depth, limit)}"
    )
    root = _node(page)
    nodes: dict[tuple[str, ...], dict[str, Any]] = {(): root}
    rows = sorted(runner.store.query(sql, [*params, page]), key=lambda r: int(r[0]))
    for level, *row in rows:  # each node after the one above it
        prefix, (visits, exits, continued) = tuple(row[: int(level) - 1]), row[depth - 1 :]
        node = root
        if prefix:
            node = nodes[prefix] = _node(prefix[-1])
            nodes[prefix[:-1]]["children"][prefix[-1]] = node
        node["visits"], node["exits"] = int(visits or 0), int(exits or 0)
        node["continued"] = int(continued or 0)
    return {"depth": depth, "tree": _finish(root, limit)}


def _levels(depth: int, limit: int) -> str:
    """CTEs k1..k<depth> over ``v`` and the statement reading them: per level, the
    ``limit`` nodes of most visits under each node kept one level up (ties by page, as
    ``_finish``), each as ``(level, p2..p<depth> padded with NULL, visits, exits,
    continued)``. Only the nodes shown leave the engine: assembling every path's nodes
    in Python cost more than the query."""
    ctes, selects = [], []
    for level in range(1, depth + 1):
        keys = [f"p{i}" for i in range(2, level + 1)]
        if level < depth:
            ends = f"sum(CASE WHEN v.p{level + 1} IS NULL THEN 1 ELSE 0 END) AS x, 0 AS c"
        else:
            ends = "sum(1 - v.more) AS x, sum(v.more) AS c"
        if level == 1:
            ctes.append(f"k1 AS (SELECT count(*) AS n, {ends} FROM v)")
        else:
            vkeys = ", ".join(f"v.{k} AS {k}" for k in keys)
            source = "v"
            if level > 2:  # under the nodes kept one level up
                up = " AND ".join(f"v.{k} = k{level - 1}.{k}" for k in keys[:-1])
                source = f"v JOIN k{level - 1} ON {up}"
            parent = ", ".join(keys[:-1])
            within = f"PARTITION BY {parent} " if parent else ""
            ctes.append(
                f"k{level} AS (SELECT * FROM (SELECT *, row_number() OVER ({within}ORDER BY "
                f"n DESC, {keys[-1]}) AS r FROM (SELECT {vkeys}, count(*) AS n, {ends} "
                f"FROM {source} WHERE v.{keys[-1]} IS NOT NULL GROUP BY "
                f"{', '.join(f'v.{k}' for k in keys)}) AS g) AS ranked WHERE r <= {int(limit)})"
            )
        cols = [*keys, *(["NULL"] * (depth - level)), "n", "x", "c"]
        selects.append(f"SELECT {level} AS level, {', '.join(cols)} FROM k{level}")
    return ", ".join(ctes) + " " + " UNION ALL ".join(selects)


def _node(page: str) -> dict[str, Any]:
    return {"page": page, "visits": 0, "exits": 0, "continued": 0, "children": {}}


def _finish(node: dict[str, Any], limit: int) -> dict[str, Any]:
    kids = sorted(node["children"].values(), key=lambda k: (-k["visits"], k["page"]))
    return {
        "page": node["page"],
        "visits": node["visits"],
        "exits": node["exits"],
        "continued": node["continued"],
        "children": [_finish(k, limit) for k in kids[:limit]],
    }
