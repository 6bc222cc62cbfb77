"""Shaping a query's rows for the answer: their order, the comparison's time labels, and
the query as echoed back (re-postable as it is).
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
