"""Store tests use the contract suite's stores (DuckDB, chdb, ClickHouse over HTTP)."""

from tests.contract.conftest import store_url  # noqa: F401
