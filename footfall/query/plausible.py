"""Plausible's Stats API v2 rules for a query body, with Plausible's own error messages.

A Plausible client shows the ``error`` string of a 400 to its user, and some compare it,
so a query Plausible refuses is refused here with the same words (``PlausibleError``
carries them beside Footfall's field and message). The rules are the ones Plausible's
query parser and table decider apply; they are checked once the body has been parsed
into a ``Query`` (``check_query``) or while a filter is read (``check_clauses``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from footfall.ingest.validate import FieldError

# Metrics Plausible computes only from events / only from visits, and the dimensions only
# the visit row has: an event metric by a visit-only dimension (or the reverse) is refused.
EVENT_ONLY_METRICS = ("pageviews", "events", "scroll_depth", "time_on_page", "total_revenue",
                      "average_revenue")  # fmt: skip
SESSION_ONLY_METRICS = ("bounce_rate", "visit_duration", "views_per_visit")
# Plausible also refuses event metrics by the entry page; Footfall stamps the entry page
# on every event of a visit, so pageviews by entry page have one meaning and are kept.
SESSION_ONLY_DIMENSIONS = ("visit:exit_page", "visit:exit_page_hostname")
# Dimensions a filter may name only at the top level of the filters (not under and/or/not).
TOP_LEVEL_ONLY = ("event:goal", "event:hostname")
BEHAVIOURAL = ("has_done", "has_not_done")


@dataclass(eq=False)  # as FieldError: an exception must take its __traceback__
class PlausibleError(FieldError):
    """A FieldError that Plausible reports with its own message (``plausible``)."""

    plausible: str = ""


def message(exc: FieldError) -> str:
    """The ``error`` string of a v2 query's 400: Plausible's words when it has them."""
    if isinstance(exc, PlausibleError) and exc.plausible:
        return exc.plausible
    return f"{exc.field}: {exc.message}"


def inspect(value: Any) -> str:
    """``value`` written as Elixir's ``inspect`` writes decoded JSON, as Plausible's
    messages quote the offending part of a body."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nil"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(inspect(v) for v in value) + "]"
    if isinstance(value, dict):
        return "%{" + ", ".join(f"{inspect(k)} => {inspect(v)}" for k, v in value.items()) + "}"
    return str(value)


def _ticks(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def check_clauses(raw: list[Any], path: str) -> None:
    """A simple filter's clauses and modifiers as Plausible accepts them: strings (numbers
    only for ``visit:city``, Plausible's city ids), 2-letter codes for ``is visit:country``,
    and no ``case_sensitive`` on a regular expression (its flags say that)."""
    op, dim, values = raw[0], raw[1], raw[2]
    strings = all(isinstance(v, str) for v in values)
    integers = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if not strings and not (dim == "visit:city" and integers):
        raise PlausibleError(path, "values must be strings", f"Invalid filter '{inspect(raw)}'.")
    if dim == "visit:country" and op in ("is", "is_not") and any(len(v) != 2 for v in values):
        raise PlausibleError(
            path,
            "a country is its 2-letter ISO code",
            "Invalid visit:country filter, visit:country needs to be a valid 2-letter "
            "country code.",
        )
    modifiers = raw[3] if len(raw) == 4 else {}
    if op.startswith("matches") and isinstance(modifiers, dict) and "case_sensitive" in modifiers:
        raise PlausibleError(
            path,
            "case_sensitive does not apply to matches (use (?i) in the pattern)",
            f"#/{path.replace('[', '/').replace(']', '')}: Invalid filter {inspect(raw)}",
        )


def _dims(filters: tuple[Any, ...], depth: int, behavioural: bool) -> list[tuple[str, int, int]]:
    """(dimension, and/or/not depth, behavioural depth) of every simple condition."""
    from footfall.query.model import Condition

    out: list[tuple[str, int, int]] = []

    def walk(f: Any, d: int, b: int) -> None:
        if isinstance(f, Condition):
            out.append((f.dim, d, b))
        elif f.op in BEHAVIOURAL:
            if behavioural:
                walk(f.children[0], d, b + 1)
        else:
            for child in f.children:
                walk(child, d + 1, b)

    for f in filters:
        walk(f, depth, 0)
    return out


def page_filtered(filters: tuple[Any, ...], top_level: bool = False) -> bool:
    """Whether a filter names ``event:page`` (at the top level only, if asked); filters
    inside has_done/has_not_done choose visits, not pages, and do not count."""
    return any(
        dim == "event:page" and (depth == 0 or not top_level)
        for dim, depth, _ in _dims(filters, 0, False)
    )


def check_query(q: Any) -> None:
    """Plausible's refusals of a parsed Query (footfall/query/model.py calls this)."""
    found = _dims(q.filters, 0, True)
    for dim, depth, b in found:
        if b == 0 and depth > 0 and dim in TOP_LEVEL_ONLY:
            raise PlausibleError(
                "filters",
                f"{dim} can only be filtered at the top level",
                f"Invalid filters. Dimension `{dim}` can only be filtered at the top level.",
            )
        if b > 1:
            raise PlausibleError(
                "filters",
                "has_done/has_not_done cannot be nested",
                "Invalid filters. Behavioral filters (has_done, has_not_done) cannot be nested.",
            )
        if b == 1 and not dim.startswith("event:"):
            raise PlausibleError(
                "filters",
                "has_done/has_not_done take event dimensions only",
                "Invalid filters. Behavioral filters (has_done, has_not_done) can only be "
                "used with event dimension filters.",
            )
    page_dim = "event:page" in q.dimensions
    if "scroll_depth" in q.metrics and not (page_dim or page_filtered(q.filters, True)):
        raise PlausibleError(
            "metrics",
            "scroll_depth needs an event:page dimension or top-level filter",
            "Metric `scroll_depth` can only be queried with event:page filters or dimensions.",
        )
    if "time_on_page" in q.metrics and not (page_dim or page_filtered(q.filters)):
        raise PlausibleError(
            "metrics",
            "time_on_page needs an event:page dimension or filter",
            "Metric `time_on_page` can only be queried with event:page filters or dimensions.",
        )
    event_dims = [d for d in q.dimensions if d.startswith("event:")]
    session_metrics = [m for m in q.metrics if m in SESSION_ONLY_METRICS]
    if event_dims == ["event:page"]:
        # Visit metrics by page are the visits that entered there (Plausible's choice),
        # except views per visit, which has no per-page meaning.
        session_metrics = [m for m in session_metrics if m == "views_per_visit"]
    if session_metrics and event_dims:
        raise PlausibleError(
            "metrics",
            f"{session_metrics[0]} cannot be broken down by event dimension {event_dims[0]}",
            f"Session metric(s) {_ticks(session_metrics)} cannot be queried along with event "
            f"dimension(s) {_ticks(event_dims)}",
        )


def check_v2(q: Any) -> None:
    """Refusals of Plausible's that only the v2 query body gets (``POST /api/v2/query``
    and its export): Footfall's own reports answer these queries."""
    if "views_per_visit" in q.metrics and page_filtered(q.filters):
        raise PlausibleError(
            "metrics",
            "views_per_visit cannot be asked with an event:page filter",
            "Metric `views_per_visit` cannot be queried with a filter on `event:page`.",
        )
    session_dims = [d for d in q.dimensions if d in SESSION_ONLY_DIMENSIONS]
    event_metrics = [m for m in q.metrics if m in EVENT_ONLY_METRICS]
    if event_metrics and session_dims:
        raise PlausibleError(
            "metrics",
            f"{event_metrics[0]} cannot be broken down by visit dimension {session_dims[0]}",
            f"Event metric(s) {_ticks(event_metrics)} cannot be queried along with session "
            f"dimension(s) {_ticks(session_dims)}",
        )


def include_and_compare(
    raw: dict[str, bool | dict[str, Any]], compare: str | dict[str, Any] | None
) -> tuple[dict[str, Any], str | tuple[str, str] | None]:
    """The include flags, and the comparison: Footfall's top-level ``compare`` or
    Plausible's ``include.comparisons`` (``{"mode": "previous_period" | "year_over_year" |
    "custom", "date_range": [from, to]}``, answered with Plausible's change figures)."""
    include: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "comparisons":
            if not isinstance(value, dict) or compare is not None:
                raise FieldError("include.comparisons", "an object {mode, date_range?}, and no "
                                 "top-level compare beside it")  # fmt: skip
            mode = value.get("mode")
            compare = mode if mode != "custom" else value  # type: ignore[assignment, unused-ignore]
            include[key] = dict(value)
        elif isinstance(value, bool):
            include[key] = value
        else:
            raise FieldError(f"include.{key}", "must be true or false")
    try:
        return include, _compare(compare)
    except FieldError as exc:
        field = "include.comparisons" if "comparisons" in include else exc.field
        raise FieldError(field, exc.message) from None


def _compare(value: str | dict[str, Any] | None) -> str | tuple[str, str] | None:
    if value is None or value in ("previous_period", "year_over_year"):
        return value  # type: ignore[return-value, unused-ignore]
    if isinstance(value, dict) and value.get("mode") == "custom":
        rng = value.get("date_range")
        if isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, str) for v in rng):
            return rng[0], rng[1]
        raise FieldError("compare", "custom comparison needs date_range: [from, to]")
    raise FieldError("compare", "use previous_period, year_over_year or {mode: custom, date_range}")
