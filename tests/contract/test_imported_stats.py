"""The store contract for imported aggregates, on every store: ``write_imported`` replaces
one import's rows (a re-import adds nothing), keeps other imports and sites, fills the
columns a file lacks, and ``delete_site_data`` removes them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from footfall.config import Settings
from footfall.store import open_store

D1, D2 = date(2023, 5, 1), date(2023, 5, 2)


def pages(visitors: list[int]) -> pa.Table:
    return pa.table({
        "kind": ["pages"] * len(visitors),
        "date": [D1 if i % 2 == 0 else D2 for i in range(len(visitors))],
        "page": [f"/{i}" for i in range(len(visitors))],
        "visitors": visitors,
        "pageviews": [2 * v for v in visitors],
    })  # fmt: skip


def test_write_replace_and_delete(tmp_path: Path, store_url: str) -> None:
    store = open_store(Settings(data_dir=tmp_path / "d", store_url=store_url))
    try:
        sql = (
            "SELECT site_id, page, sum(visitors), sum(pageviews), sum(visits), min(source) "
            "FROM imported_stats WHERE kind = 'pages' AND date BETWEEN ? AND ? "
            "GROUP BY site_id, page ORDER BY site_id, page"
        )
        assert store.write_imported("a", "one", pages([3, 4])) == 2
        assert store.write_imported("a", "one", pages([3, 4])) == 2  # the same import again
        assert store.write_imported("a", "two", pages([10])) == 1  # another import adds
        assert store.write_imported("b", "one", pages([7])) == 1  # another site
        assert store.query(sql, [D1, D2]) == [
            ("a", "/0", 13, 26, 0, ""),
            ("a", "/1", 4, 8, 0, ""),
            ("b", "/0", 7, 14, 0, ""),
        ]
        assert store.query(sql, [D2, D2]) == [("a", "/1", 4, 8, 0, "")]
        store.write_imported("a", "one", pages([1]))  # replaced by a smaller import
        assert store.query(sql, [D1, D2])[:2] == [
            ("a", "/0", 11, 22, 0, ""),
            ("b", "/0", 7, 14, 0, ""),
        ]
        store.delete_site_data("a")
        assert store.query(sql, [D1, D2]) == [("b", "/0", 7, 14, 0, "")]
    finally:
        store.close()
