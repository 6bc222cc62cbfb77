"""The query model (Plausible Stats API v2 shape) and its validation.

``parse_query`` turns a JSON body into a ``Query`` or raises ``FieldError`` naming the bad
part: an unknown metric, dimension or operator, a regular expression the engine would
refuse, filters nested too deeply, an invalid range, an impossible combination.
Everything downstream can then trust the query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from footfall.ingest.validate import FieldError, field_error
from footfall.query import plausible as pl
from footfall.query.dimensions import dimension
from footfall.query.metrics import QUERY_METRICS
from footfall.query.patterns import check_pattern
from footfall.query.period import is_instant, parse_date, parse_instant, shortcut
from footfall.query.plausible import BEHAVIOURAL, PlausibleError, check_clauses, check_query

OPERATORS = ("is", "is_not", "contains", "contains_not", "matches", "matches_not")
GOAL_OPERATORS = ("is", "contains")  # a goal is chosen by name, as in Plausible
NAMED_RANGES = ("day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", "all", "realtime",
                "realtime_5m")  # fmt: skip
# Metrics a goal breakdown answers: each goal's row is computed over its matching events.
GOAL_METRICS = ("visitors", "visits", "events", "pageviews", "conversion_rate",
                "group_conversion_rate", "total_revenue", "average_revenue")  # fmt: skip
MINUTE_RANGES = ("realtime", "realtime_5m", "day")  # a time:minute breakdown stays small
# and/or/not levels in one filter. Each level is a recursion in parsing and compiling and
# a nesting level in the engine's SQL parser; real dashboards use two or three.
MAX_FILTER_DEPTH = 16


class QueryBody(msgspec.Struct, forbid_unknown_fields=True):
    site_id: Annotated[str, Meta(min_length=1, max_length=100)]
    metrics: Annotated[list[str], Meta(min_length=1, max_length=30)]
    date_range: str | list[str]
    dimensions: Annotated[list[str], Meta(max_length=5)] = []
    filters: list[Any] = []
    compare: str | dict[str, Any] | None = None
    order_by: list[tuple[str, str]] | None = None
    limit: Annotated[int, Meta(ge=1, le=10_000)] = 10_000
    offset: Annotated[int, Meta(ge=0)] = 0
    pagination: dict[str, int] | None = None
    # Flags, and Plausible's comparisons: {"mode": ..., "date_range": [...]} (_include).
    include: dict[str, bool | dict[str, Any]] = {}
    date: str | None = None  # reference "today" for named ranges (site's zone by default)


@dataclass(frozen=True, slots=True)
class Condition:
    """A simple filter: ``[operator, dimension, clauses, modifiers?]``."""

    op: str
    dim: str
    values: tuple[str, ...]
    case_sensitive: bool = True


@dataclass(frozen=True, slots=True)
class Logical:
    # has_done / has_not_done (one child): the visits having (not having) an event that
    # matches the child, Plausible's behavioural filters.
    op: Literal["and", "or", "not", "has_done", "has_not_done"]
    children: tuple[Filter, ...]


Filter = Condition | Logical


@dataclass(frozen=True, slots=True)
class Query:
    site_id: str
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...]
    filters: tuple[Filter, ...]
    date_range: str | tuple[str, str]
    compare: str | tuple[str, str] | None  # "previous_period", "year_over_year", (from, to)
    order_by: tuple[tuple[str, str], ...]
    limit: int
    offset: int
    include: dict[str, bool] = field(default_factory=dict)
    date: str | None = None
    # The site's goals as (name, the filter its completions match), attached by the caller
    # that can read the site's settings (footfall/query/goals.py); None when not attached.
    goals: tuple[tuple[str, Filter], ...] | None = None

    @property
    def time_dimension(self) -> str | None:
        return next((d for d in self.dimensions if d.startswith("time")), None)

    def event_dimensions(self) -> list[str]:
        return [d for d in self.dimensions if d.startswith("event:")]


def decode_json(body: bytes | str, field: str) -> Any:
    """JSON text as Python values, or FieldError at ``field`` (malformed, not UTF-8, or
    nested deeper than the decoder recurses)."""
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 in a string.
        raise FieldError(field, f"Invalid JSON: {exc}") from None
    except RecursionError:
        raise FieldError(field, "Invalid JSON: nested too deeply") from None


def query_body(body: bytes) -> dict[str, Any]:
    """A query request's body as a JSON object with a ``site_id``, or FieldError."""
    raw = decode_json(body, "body")
    if not isinstance(raw, dict):
        raise FieldError("body", "must be a JSON object (a v2 query)")
    if not isinstance(raw.get("site_id"), str):
        raise FieldError("site_id", "required")
    return raw


def _filter(raw: Any, path: str, depth: int = 1) -> Filter:
    if depth > MAX_FILTER_DEPTH:
        raise FieldError(path, f"filters nest at most {MAX_FILTER_DEPTH} levels deep")
    if not isinstance(raw, list) or len(raw) < 2 or not isinstance(raw[0], str):
        raise _invalid(path, raw, "a filter is [operator, dimension, [values]] or [and|or, [...]]")
    op = raw[0]
    if op in ("and", "or"):
        if len(raw) != 2 or not isinstance(raw[1], list) or not raw[1]:
            raise FieldError(path, f"'{op}' takes a non-empty list of filters")
        children = tuple(_filter(f, f"{path}[{i}]", depth + 1) for i, f in enumerate(raw[1]))
        return Logical(op, children)  # type: ignore[arg-type]
    if op in ("not", *BEHAVIOURAL):
        if len(raw) != 2:
            raise _invalid(path, raw, f"'{op}' takes exactly one filter")
        return Logical(op, (_filter(raw[1], path + "[1]", depth + 1),))  # type: ignore[arg-type]
    if op not in OPERATORS:
        raise _invalid(path, raw, f"unknown filter operator {op!r}")
    if len(raw) not in (3, 4) or not isinstance(raw[1], str) or not isinstance(raw[2], list):
        raise _invalid(path, raw, "a filter is [operator, dimension, [values], modifiers?]")
    dim = raw[1]
    if dim == "event:goal" and op not in GOAL_OPERATORS:
        raise FieldError(path, f"event:goal takes {' or '.join(GOAL_OPERATORS)}, not {op!r}")
    if dim.startswith("time"):
        raise FieldError(path, "time dimensions cannot be filtered; set date_range")
    try:
        dimension(dim, path)
    except FieldError as exc:  # Plausible's words for a filter on no dimension it knows
        raise _invalid(path, raw, exc.message) from None
    values = raw[2]
    if not values or len(values) > 100:
        raise FieldError(path, "values must be a list of 1-100 strings")
    check_clauses(raw, path)
    values = [str(v) for v in values]
    if any(len(v) > 2000 for v in values):
        raise FieldError(path, "a filter value is longer than 2000 characters")
    if op.startswith("matches"):
        for v in values:
            check_pattern(v, path)
    modifiers = raw[3] if len(raw) == 4 else {}
    if not isinstance(modifiers, dict) or set(modifiers) - {"case_sensitive"}:
        raise FieldError(path, 'the only modifier is {"case_sensitive": bool}')
    return Condition(op, dim, tuple(values), bool(modifiers.get("case_sensitive", True)))


def _invalid(path: str, raw: Any, problem: str) -> PlausibleError:
    where = "#/" + path.replace("[", "/").replace("]", "")
    return PlausibleError(path, problem, f"{where}: Invalid filter {pl.inspect(raw)}")


def parse_filter(raw: Any, path: str) -> Filter:
    """One filter in the v2 JSON shape, validated; FieldError at ``path``."""
    return _filter(raw, path)


def conditions(filters: tuple[Filter, ...]) -> list[Condition]:
    """Every simple condition of ``filters``, at any depth."""
    out: list[Condition] = []
    for f in filters:
        out.extend([f] if isinstance(f, Condition) else conditions(f.children))
    return out


def parse_query(raw: bytes | dict[str, Any]) -> Query:
    try:
        body = msgspec.convert(decode_json(raw, "body") if isinstance(raw, bytes) else raw,
                               QueryBody)  # fmt: skip
    except msgspec.ValidationError as exc:
        raise field_error(exc) from None
    for i, m in enumerate(body.metrics):
        if m not in QUERY_METRICS:
            raise PlausibleError(
                "metrics", f"unknown metric {m!r}", f'#/metrics/{i}: Invalid metric "{m}"'
            )
    if len(set(body.metrics)) != len(body.metrics):
        raise PlausibleError(
            "metrics",
            "a metric is listed twice",
            "#/metrics: Expected items to be unique but they were not.",
        )
    for i, d in enumerate(body.dimensions):
        try:
            dimension(d, "dimensions")
        except FieldError as exc:
            raise PlausibleError(
                exc.field, exc.message, f'#/dimensions/{i}: Invalid dimension "{d}"'
            ) from None
    if len(set(body.dimensions)) != len(body.dimensions):
        raise FieldError("dimensions", "a dimension is listed twice")
    if sum(d.startswith("time") for d in body.dimensions) > 1:
        raise FieldError("dimensions", "at most one time dimension")
    filters = tuple(_filter(f, f"filters[{i}]") for i, f in enumerate(body.filters))
    date_range = _date_range(body.date_range)
    include, compare = pl.include_and_compare(body.include, body.compare)
    limit, offset = body.limit, body.offset
    if body.pagination:
        limit, offset = body.pagination.get("limit", limit), body.pagination.get("offset", offset)
        if not 1 <= limit <= 10_000 or offset < 0:
            raise FieldError("pagination", "limit must be 1-10000 and offset >= 0")
    q = Query(
        body.site_id, tuple(body.metrics), tuple(body.dimensions), filters, date_range, compare,
        tuple(body.order_by or ()), limit, offset, include, body.date,
    )  # fmt: skip
    _check_combination(q)
    return q


def _date_range(value: str | list[str]) -> str | tuple[str, str]:
    if isinstance(value, str):
        if value not in NAMED_RANGES and not shortcut(value):
            raise PlausibleError(
                "date_range",
                f"unknown range {value!r}; use one of {', '.join(NAMED_RANGES)}, Nd (last N "
                "days), Nmo (last N months) or [from, to]",
                f'#/date_range: Invalid date range "{value}"',
            )
        return value
    if len(value) != 2:
        raise FieldError("date_range", "a custom range is [from, to]")
    if is_instant(value[0]) != is_instant(value[1]):
        raise FieldError("date_range", "give [from, to] as two dates or two date-times")
    for v in value:  # checked here so that every caller's 400 names date_range
        parse_instant(v, "date_range") if is_instant(v) else parse_date(v, "date_range")
    return value[0], value[1]


def _check_combination(q: Query) -> None:
    check_query(q)
    conds = conditions(q.filters)
    for m in ("entries", "exits"):
        if m in q.metrics and any(
            d != "event:page" and not d.startswith("time") for d in q.dimensions
        ):
            raise FieldError("metrics", f"{m} can only be broken down by event:page")
    if "percentage" in q.metrics and not q.dimensions:
        raise FieldError("metrics", "percentage needs a dimension")
    goal_chosen = "event:goal" in q.dimensions or any(
        c.dim == "event:goal" or (c.dim == "event:name" and c.op == "is") for c in conds
    )
    rates = [m for m in q.metrics if m in ("conversion_rate", "group_conversion_rate")]
    if rates and not goal_chosen:
        raise PlausibleError(
            "metrics",
            "conversion rates need an event:goal dimension or filter, or an "
            "['is', 'event:name', [...]] filter (the goal)",
            f"Metric `{rates[0]}` can only be queried with event:goal filters or dimensions.",
        )
    if "event:goal" in q.dimensions:
        for m in q.metrics:
            if m not in GOAL_METRICS:
                allowed = ", ".join(GOAL_METRICS)
                raise FieldError(
                    "metrics", f"{m} cannot be broken down by event:goal; use {allowed}"
                )
    if "bot_events" in q.metrics and any(not d.startswith("time") for d in q.dimensions):
        raise FieldError("metrics", "bot_events can only be broken down by time")
    if q.time_dimension == "time:minute" and (q.date_range not in MINUTE_RANGES or q.compare):
        raise FieldError(
            "dimensions", "time:minute needs date_range realtime, realtime_5m or day, no compare"
        )
    if q.time_dimension == "time:minute" and "bot_events" in q.metrics:
        raise FieldError("metrics", "bot_events are counted per hour, not per minute")
    if q.include.get("time_labels") and q.time_dimension is None:
        raise PlausibleError(
            "include",
            "time_labels needs a time dimension",
            "Invalid include.time_labels: requires a time dimension.",
        )
    for key, direction in q.order_by:
        if key not in q.metrics and key not in q.dimensions:
            raise FieldError("order_by", f"{key!r} is not among the query's metrics or dimensions")
        if direction not in ("asc", "desc"):
            raise FieldError("order_by", "direction must be asc or desc")
