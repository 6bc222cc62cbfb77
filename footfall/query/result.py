"""The typed stages of answering a Query: its plan (``QueryPlan``: the periods, the time
unit and the scope every statement shares) and its answer (``QueryResult``: rows of
dimension labels and finished metrics, each with its comparison), turned into the API's
JSON only at the edge (``QueryResult.to_json``).

``QueryRunner.plan`` makes the plan, ``QueryRunner.answer`` executes it (one statement per
source, the rows merged by dimension values) and returns the result; ``QueryRunner.run``
is ``answer(...).to_json()``, the wire shape the REST API, reports and exports read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from footfall.query.builder import Scope
from footfall.query.period import Period

Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """What executing a query needs: its resolved period (and the comparison's), the
    time dimension's unit, and the scope (site, UTC bounds, zone, dialect) of every
    statement."""

    period: Period
    unit: str | None
    scope: Scope
    compare_period: Period | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """The same row in the comparison period: its key there, metrics, change in %."""

    dimensions: Key
    metrics: list[Any]
    change: list[float | None]


@dataclass(frozen=True, slots=True)
class ResultRow:
    dimensions: Key
    metrics: list[Any]
    comparison: Comparison | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dimensions": list(self.dimensions), "metrics": self.metrics}
        if self.comparison is not None:
            c = self.comparison
            out["comparison"] = {
                "dimensions": list(c.dimensions),
                "metrics": c.metrics,
                "change": c.change,
            }
        return out


@dataclass(slots=True)
class QueryResult:
    """One answer: the page of rows asked for, and what the query's ``include`` asked."""

    rows: list[ResultRow]
    period: Period
    query: dict[str, Any]  # the query as answered, re-postable (shape.echo)
    compare_period: Period | None = None
    time_labels: list[str] | None = None
    total_rows: int | None = None
    totals: dict[str, Any] | None = None
    extra_meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The API's shape: ``results``, ``meta`` and the echoed ``query``."""
        p = self.period
        meta: dict[str, Any] = {"period": {"from": p.first.isoformat(), "to": p.last.isoformat()}}
        if self.time_labels is not None:
            meta["time_labels"] = self.time_labels
        if self.compare_period is not None:
            cp = self.compare_period
            meta["comparison_period"] = {"from": cp.first.isoformat(), "to": cp.last.isoformat()}
        if self.total_rows is not None:
            meta["total_rows"] = self.total_rows
        if self.totals is not None:
            meta["totals"] = self.totals
        meta.update(self.extra_meta)
        return {"results": [r.to_json() for r in self.rows], "meta": meta, "query": self.query}
