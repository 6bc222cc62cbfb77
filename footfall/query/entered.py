"""Visit metrics about a page are about the visits that *entered* on it (Plausible's rule).

Two places where a visit metric meets ``event:page``:

- broken down by ``event:page``, bounce rate and visit duration of a page are those of the
  visits whose entry page it is: the visits' statement groups by ``visit:entry_page`` and
  reads every ``event:page`` filter as one on the entry page (``by_entry_page``);
- under a top-level ``event:page`` filter, the bounce rate is over the visits that entered
  on a page it matches (``entered_filters``); the other visit metrics keep the visits that
  viewed such a page.

Likewise a top-level ``event:hostname`` filter, with a breakdown by where visits came from
or entered, keeps the visits that entered on that hostname (``hostname_filters``), so a
referrer of one hostname is not listed under another; with a breakdown by exit page, the
visits that left from that hostname.
"""

from __future__ import annotations

from footfall.query.model import Condition, Filter, Logical

PAGE = "event:page"
ENTRY = "visit:entry_page"


def _rename(f: Filter) -> Filter:
    if isinstance(f, Condition):
        return Condition(f.op, ENTRY, f.values, f.case_sensitive) if f.dim == PAGE else f
    if f.op in ("has_done", "has_not_done"):
        return f  # chooses visits by their events: the page there is an event's page
    return Logical(f.op, tuple(_rename(c) for c in f.children))


def by_entry_page(
    dims: tuple[str, ...], filters: tuple[Filter, ...]
) -> tuple[tuple[str, ...], tuple[Filter, ...]]:
    """The visits' dimensions and filters for a breakdown by ``event:page``."""
    if PAGE not in dims:
        return dims, filters
    return tuple(ENTRY if d == PAGE else d for d in dims), tuple(_rename(f) for f in filters)


def entered_filters(
    dims: tuple[str, ...], filters: tuple[Filter, ...]
) -> tuple[Filter, ...] | None:
    """The filters choosing the visits a bounce rate is over when a top-level page filter
    asks it (None when there is none, or the breakdown by page already did)."""
    pages = [f for f in filters if isinstance(f, Condition) and f.dim == PAGE]
    if not pages or PAGE in dims:
        return None
    return (*filters, _rename(pages[0]))


HOSTNAME = "event:hostname"
# Breakdowns whose rows say where a visit came from or entered (Plausible's list).
ENTERED_BY = (
    "visit:source",
    "visit:referrer",
    "visit:entry_page",
    "visit:utm_source",
    "visit:utm_medium",
    "visit:utm_campaign",
    "visit:utm_content",
    "visit:utm_term",
)


def hostname_filters(dims: tuple[str, ...], filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """``filters`` plus, for such a breakdown, each top-level hostname filter read as one
    on the visit's entry hostname."""
    extra = tuple(
        Condition(f.op, f"visit:{side}_page_hostname", f.values, f.case_sensitive)
        for side in ("entry", "exit")
        if any(d in (ENTERED_BY if side == "entry" else ("visit:exit_page",)) for d in dims)
        for f in filters
        if isinstance(f, Condition) and f.dim == HOSTNAME
    )
    return (*filters, *extra)
