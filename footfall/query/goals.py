"""Goals in the query API: ``event:goal`` as a filter and as a dimension (Plausible v2).

A site's goals live in its settings (:class:`footfall.meta.prefs.GoalInfo`): an event goal
is completed by events of its name, a page goal by pageviews whose path matches its glob
(``*`` one path segment, ``**`` any depth), either optionally narrowed by one property.
The caller that can read the settings attaches them to the parsed query (``attach``),
each as the filter its completions match, so the builder compiles a goal filter like any
other filter, in either store's dialect:

- ``["is", "event:goal", ["Signup"]]`` keeps the events completing a goal so named
  (``contains`` a goal whose name contains the value; ``case_sensitive`` applies);
- the ``event:goal`` dimension gives one row per goal, computed over the events that
  complete it, so an event completing two goals counts in both rows (the runner).

The conversion rate's divisor drops every top-level goal filter (``without_goals``):
a goal's converting visitors over all the visitors of the range and other filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from footfall.ingest.validate import FieldError
from footfall.meta.prefs import GoalInfo
from footfall.query.model import Condition, Filter, Logical, Query, conditions, parse_filter
from footfall.query.plausible import PlausibleError

GOAL = "event:goal"


def goal_chosen(name: str, c: Condition) -> bool:
    """Whether the goal called ``name`` is one that condition ``c`` (is/contains) names."""
    fold = (lambda v: v) if c.case_sensitive else str.casefold
    if c.op == "is":
        return any(fold(name) == fold(v) for v in c.values)
    return any(fold(v) in fold(name) for v in c.values)


def uses_goals(q: Query) -> bool:
    return GOAL in q.dimensions or any(c.dim == GOAL for c in conditions(q.filters))


def attach(q: Query, goals: Iterable[GoalInfo]) -> Query:
    """``q`` with the site's goals, each as the filter an event completing it matches."""
    compiled = []
    for g in goals:
        parts = tuple(parse_filter(f, "goals") for f in g.query_filters())
        compiled.append((g.name, parts[0] if len(parts) == 1 else Logical("and", parts)))
    for c in conditions(q.filters):
        if c.dim != GOAL or c.op != "is":
            continue
        named = [name for name, _ in compiled]
        missing = [
            v for v in c.values if not any(goal_chosen(n, replace(c, values=(v,))) for n in named)
        ]
        if missing:
            raise PlausibleError(
                "filters",
                f"no goal named {missing[0]!r} (the site's goals: settings or the goals API)",
                f"The goal `{missing[0]}` is not configured for this site. Find out how to "
                "configure goals here: https://plausible.io/docs/stats-api#filtering-by-goals",
            )
    return replace(q, goals=tuple(compiled))


def site_goals(q: Query) -> tuple[tuple[str, Filter], ...]:
    """The goals attached to ``q``; a FieldError if it names goals none were attached for."""
    if q.goals is None:
        if uses_goals(q):
            raise FieldError("filters", "event:goal is answered by POST /api/v2/query only")
        return ()
    return q.goals


def breakdown_goals(q: Query, filters: tuple[Filter, ...]) -> list[str]:
    """The goals a goal breakdown lists: those every top-level goal filter chooses."""
    top = [f for f in filters if isinstance(f, Condition) and f.dim == GOAL]
    return [name for name, _ in q.goals or () if all(goal_chosen(name, c) for c in top)]


def without_goals(filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """The filters minus the goal (top-level goal filters and ``is event:name``), for the
    conversion rates' divisors."""
    return tuple(
        f
        for f in filters
        if not (
            isinstance(f, Condition) and (f.dim == GOAL or (f.dim == "event:name" and f.op == "is"))
        )
    )
