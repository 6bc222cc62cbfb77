"""Plain-Python references for tests, written from docs/design.md's metric definitions.

Tests compare the product's numbers with these, never with the product's own SQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

VISIT_GAP = timedelta(minutes=30)


def half_up(value: Decimal | float, places: int) -> float:
    """Round half away from zero to ``places`` decimals (docs/design.md: at most one decimal)."""
    return float(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def split_visits(
    events: list[dict[str, Any]], gap: timedelta = VISIT_GAP
) -> list[list[dict[str, Any]]]:
    """Visits by the 30-minute rule: per ``visitor_id``, in ``at`` order, a new visit
    whenever the gap to the previous event exceeds ``gap``."""
    by_visitor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_visitor[e["visitor_id"]].append(e)
    visits: list[list[dict[str, Any]]] = []
    for evs in by_visitor.values():
        evs.sort(key=lambda e: e["at"])
        current = [evs[0]]
        for e in evs[1:]:
            if e["at"] - current[-1]["at"] <= gap:
                current.append(e)
            else:
                visits.append(current)
                current = [e]
        visits.append(current)
    return visits
