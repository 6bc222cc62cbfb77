"""Filters on imported aggregates: which ones an import can answer, and the rows they keep.

Plausible adds imported data to a filtered query when every filter names a column of the
one imported table the query reads (``event:page`` filters on the pages table, a device
filter on the devices table, two UTM filters on the sources table), or a goal: an event
goal is the custom events table's ``name``, a page goal the pages table's ``page``. A
filter on another table, a goal narrowed by a property, and behavioural filters make the
query ``unsupported_query`` (Plausible's reason). Imported rows are daily aggregates, so
a filter keeps or drops whole rows; it is tested here on the row's labels, with the
operators' meaning in queries (``is``, ``contains``, ``matches`` and their negations,
``case_sensitive``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from footfall.query.dimensions import dimension
from footfall.query.goals import GOAL, goal_chosen
from footfall.query.model import Condition, Filter, Logical

Goals = tuple[tuple[str, Filter], ...]
Row = Mapping[str, str]


class Unsupported(Exception):
    """A filter imported aggregates cannot answer."""


def _column(dims: Mapping[str, tuple[str, str]], c: Condition, kind: str | None) -> str:
    if c.dim not in dims or (kind is not None and dims[c.dim][0] != kind):
        raise Unsupported(c.dim)
    return dims[c.dim][1]


def _goal_parts(f: Filter) -> list[Condition]:
    """An event goal as ``event:name is X``; a page goal as its page pattern (its
    ``event:name is pageview`` part is what the pages table is)."""
    parts = [f] if isinstance(f, Condition) else list(f.children)
    if isinstance(f, Logical) and f.op != "and":
        raise Unsupported("goal")
    out = []
    for p in parts:
        if not isinstance(p, Condition) or p.dim.startswith("event:props:"):
            raise Unsupported("a goal with a property")
        if not (p.dim == "event:name" and p.values == ("pageview",) and len(parts) > 1):
            out.append(p)
    return out


def kinds(dims: Mapping[str, tuple[str, str]], filters: Iterable[Filter], goals: Goals) -> set[str]:
    """The imported tables ``filters`` name (Unsupported when one cannot be answered)."""
    out: set[str] = set()
    for f in filters:
        if isinstance(f, Logical):
            if f.op not in ("and", "or", "not"):
                raise Unsupported(f.op)
            out |= kinds(dims, f.children, goals)
        elif f.dim == GOAL:
            chosen = [g for name, g in goals if goal_chosen(name, f)]
            for g in chosen:
                out |= kinds(dims, _goal_parts(g), goals)
        else:
            out.add(dims[f.dim][0] if f.dim in dims else _column(dims, f, None))
    return out


def keeps(
    dims: Mapping[str, tuple[str, str]], f: Filter, kind: str, row: Row, goals: Goals
) -> bool:
    """Whether the imported ``row`` of table ``kind`` passes filter ``f``."""
    if isinstance(f, Logical):
        results = [keeps(dims, c, kind, row, goals) for c in f.children]
        return not results[0] if f.op == "not" else (all if f.op == "and" else any)(results)
    if f.dim == GOAL:
        chosen = [_goal_parts(g) for name, g in goals if goal_chosen(name, f)]
        return any(
            all(keeps(dims, p, kind, row, goals) for p in parts)
            for parts in chosen
            if all(dims.get(p.dim, ("", ""))[0] == kind for p in parts)
        )
    value = dimension(f.dim).label(row.get(_column(dims, f, kind), ""))
    return _matches(f, value)


def _matches(c: Condition, value: str) -> bool:
    fold = (lambda v: v) if c.case_sensitive else str.casefold
    base = c.op.removesuffix("_not")
    if base == "is":
        hit = any(fold(value) == fold(v) for v in c.values)
    elif base == "contains":
        hit = any(fold(v) in fold(value) for v in c.values)
    else:
        flags = 0 if c.case_sensitive else re.IGNORECASE
        hit = any(re.search(v, value, flags) is not None for v in c.values)
    return hit != c.op.endswith("_not")
