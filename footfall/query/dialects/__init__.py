"""SQL dialects by engine; a store's capabilities name the one its SQL is written in."""

from __future__ import annotations

from footfall.query.dialects.base import Dialect
from footfall.query.dialects.clickhouse import CLICKHOUSE
from footfall.query.dialects.duckdb import DUCKDB

DIALECTS: dict[str, Dialect] = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}

__all__ = ["CLICKHOUSE", "DIALECTS", "DUCKDB", "Dialect"]
