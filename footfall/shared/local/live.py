"""The live visitor count read from the event store, through the query layer.

The one-process shape: the writer makes events visible within about a second, and the
count is the query layer's own ``realtime_5m`` visitors, like every other figure.
"""

from __future__ import annotations

from typing import Any

from footfall.meta.repo import SiteInfo
from footfall.query.model import parse_query
from footfall.query.runner import QueryRunner


class StoreLive:
    def __init__(self, runner: QueryRunner) -> None:
        self.runner = runner

    def seen(self, payloads: list[bytes]) -> None:
        return None  # the store is where the count comes from

    def count(self, site: SiteInfo) -> int:
        """Distinct visitors with an event in the last 5 minutes (docs/design.md)."""
        query = parse_query(
            {"site_id": site.id, "metrics": ["visitors"], "date_range": "realtime_5m"}
        )
        result: dict[str, Any] = self.runner.run(query, site)
        rows = result["results"]
        return int(rows[0]["metrics"][0]) if rows else 0
