"""Which table a filtered read of events takes on a store that keeps a copy of its events
ordered by source (``Capabilities.events_by_source``; the ClickHouse store keeps
``events_by_source``, footfall/store/clickhouse/by_source.py).

``events`` is ordered for unfiltered reads of a time range, so a filter on the visit's
source reads every event of the range; the copy holds each event's top-stats columns with
one source's rows together, so the same read touches that source's rows only. The copy
has the same rows as ``events`` at every moment, so a statement reads either and answers
the same (the contract tests compare the stores; tests/store/clickhouse/
test_events_by_source.py follows the copy through re-stamps and deletions).

Taken when the filters require one source or a few (an ``is`` on ``visit:source`` at the
top of the filters' AND) and neither they nor the aggregates read a column the copy lacks.
"""

from __future__ import annotations

from footfall.query.dimensions import dimension
from footfall.query.metrics import event_aggregate_columns
from footfall.query.model import Condition, Filter, Logical
from footfall.store.base import EventStore

TABLE = "events_by_source"
# The copy's columns a filter may name (the dimensions whose events expression is one),
# and those the aggregates may read besides.
COLUMNS = frozenset({"referrer_source", "pathname", "entry_page", "name"})
READ = COLUMNS | {"visitor_id", "session_id"}
SOURCE = "visit:source"


def _only_copied(f: Filter) -> bool:
    if isinstance(f, Condition):
        if f.dim == "event:goal":
            return False  # compiled per site from goal definitions: not checked here
        return dimension(f.dim).events in COLUMNS
    if f.op in ("has_done", "has_not_done"):
        return False
    return all(_only_copied(c) for c in f.children)


def _requires_source(filters: tuple[Filter, ...]) -> bool:
    """An ``is`` on the source at the top of the filters' AND: every matching event has
    one of the listed sources, so only their rows of the copy are read."""
    for f in filters:
        if isinstance(f, Condition) and f.dim == SOURCE and f.op == "is":
            return True
        if isinstance(f, Logical) and f.op == "and" and _requires_source(f.children):
            return True
    return False


def events_table(
    store: EventStore,
    aliases: list[str],
    filters: tuple[Filter, ...],
    entered: Filter | None = None,
) -> str:
    """``events_by_source`` when the store keeps it and it serves the event aggregates
    ``aliases`` under ``filters`` (and the ``entered`` condition read beside them), else
    ``events``."""
    if not store.capabilities.events_by_source or not _requires_source(filters):
        return "events"
    if not set(event_aggregate_columns(aliases)) <= READ:
        return "events"
    named = (*filters, entered) if entered is not None else filters
    return TABLE if all(_only_copied(f) for f in named) else "events"
