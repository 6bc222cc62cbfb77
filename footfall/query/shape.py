"""Shaping a query's rows for the answer: their order, the comparison's time labels, the
query as echoed back (re-postable as it is), and Plausible's change figures for a
comparison asked for as ``include.comparisons``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from footfall.query.model import Query
from footfall.query.period import Period
from footfall.query.timebuckets import labels

Key = tuple[str, ...]


def time_alignment(q: Query, unit: str | None, p: Period, cp: Period) -> Any:
    """Maps a row's key to the comparison row's: the time bucket at the same place."""
    if unit is None or q.time_dimension is None:
        return lambda key: key
    index = q.dimensions.index(q.time_dimension)
    mapping = dict(
        zip(labels(unit, p.first, p.last), labels(unit, cp.first, cp.last), strict=False)
    )

    def relabel(key: Key) -> Key:
        return (*key[:index], mapping.get(key[index], ""), *key[index + 1 :])

    return relabel


def fill_compared_buckets(
    q: Query, unit: str | None, p: Period, cp: Period | None, current: dict[Key, Any]
) -> None:
    """Plausible lists every bucket of a time series compared as ``include.comparisons``
    asks (a bucket with nothing in it as zeros, beside the compared bucket's figures), so
    add the empty ones to ``current`` (key -> aggregates; ``{}`` finishes as zeros)."""
    if cp is None or unit is None or "comparisons" not in q.include:
        return
    if q.dimensions != (q.time_dimension,):
        return
    for label in labels(unit, p.first, p.last):
        current.setdefault((label,), {})


def order(q: Query, rows: list[tuple[Key, list[Any]]]) -> list[tuple[Key, list[Any]]]:
    """The rows in the query's order_by (by default time, then the first metric, most
    first), ties broken by the dimensions: a total, repeatable order."""
    keys = list(q.order_by)
    if not keys:
        if q.time_dimension:
            keys.append((q.time_dimension, "asc"))
        keys.append((q.metrics[0], "desc"))
    keys += [(d, "asc") for d in q.dimensions if d not in [k[0] for k in keys]]
    # Stable sorts from the last key to the first give a total, repeatable order.
    for key, direction in reversed(keys):
        if key in q.metrics:
            i = q.metrics.index(key)
            rows.sort(key=lambda r: (r[1][i] is None, r[1][i] or 0), reverse=direction == "desc")
        else:
            i = q.dimensions.index(key)
            rows.sort(key=lambda r: r[0][i], reverse=direction == "desc")
    return rows


def echo(q: Query, p: Period) -> dict[str, Any]:
    """The query as answered (its period resolved), to be posted again as it is."""
    rng = [p.first.isoformat(), p.last.isoformat()]
    if p.exact:  # the instants, re-postable: ``to`` is inclusive to the second
        last = p.end_utc - timedelta(seconds=1)
        rng = [f"{t.isoformat(timespec='seconds')}+00:00" for t in (p.start_utc, last)]
    return {"site_id": q.site_id, "metrics": list(q.metrics), "dimensions": list(q.dimensions),
            "date_range": rng, "compare": q.compare,
            "limit": q.limit, "offset": q.offset}  # fmt: skip


def plausible_change(metric: str, old: Any, new: Any) -> float | int | None:
    """A comparison's change as Plausible's ``Compare.calculate_change`` gives it: the
    difference in points for the rates (one decimal for conversion rates), else the change
    in whole percent, 100 from nothing to something and 0 from nothing to nothing."""
    if old is None or new is None:
        return None
    if metric in ("conversion_rate", "group_conversion_rate"):
        return round(float(new) - float(old), 1)
    if metric == "bounce_rate":
        return round(float(new) - float(old), 1) if old > 0 else None
    if old == 0:
        return 100 if new > 0 else 0
    return round((float(new) - float(old)) / float(old) * 100)


def plausible_changes(answer: dict[str, Any], q: Query) -> dict[str, Any]:
    """``answer`` with each comparison's ``change`` in Plausible's terms when the query
    asked as Plausible does (``include.comparisons``); Footfall's own ``compare`` keeps
    its one-decimal relative change (docs/design.md)."""
    if "comparisons" not in q.include:
        return answer
    for row in answer["results"]:
        c = row.get("comparison")
        if c is not None:
            c["change"] = [plausible_change(m, old, new)
                           for m, old, new in zip(q.metrics, c["metrics"], row["metrics"],
                                                  strict=True)]  # fmt: skip
    return answer
