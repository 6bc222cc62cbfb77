"""Throughput of the ClickHouse stand-in through clickhouse-connect (prints, asserts nothing).

    python -m tests.support.standin_bench [--rows 1000000]

Measures insert_arrow rows/s, insert() (Native, lz4) rows/s, uniqExact over the
rows, and the round trip of a trivial query, so a slow test run can be told
apart from a slow stand-in.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import clickhouse_connect
import pyarrow as pa

from tests.support.clickhouse import standin


def _timed(label: str, rows: int, fn: object) -> float:
    assert callable(fn)
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    rate = f", {rows / took:,.0f} rows/s" if rows else ""
    print(f"{label:<34} {took * 1000:9.1f} ms{rate}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    n = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp, standin(Path(tmp)) as url:
        client = clickhouse_connect.get_client(dsn=url)
        client.command(
            "CREATE TABLE ev (id UInt64, visitor UInt64, path LowCardinality(String))"
            " ENGINE = MergeTree ORDER BY id"
        )
        table = pa.table(
            {
                "id": pa.array(range(n), pa.uint64()),
                "visitor": pa.array([i % 50_000 for i in range(n)], pa.uint64()),
                "path": [f"/page/{i % 200}" for i in range(n)],
            }
        )
        _timed("insert_arrow", n, lambda: client.insert_arrow("ev", table))
        native_rows = [[n + i, i % 50_000, f"/page/{i % 200}"] for i in range(n // 10)]
        _timed(
            "insert (Native, lz4)",
            len(native_rows),
            lambda: client.insert("ev", native_rows, column_names=["id", "visitor", "path"]),
        )
        total = n + len(native_rows)
        _timed(
            "uniqExact(visitor)", total, lambda: client.query("SELECT uniqExact(visitor) FROM ev")
        )
        _timed(
            "query_arrow 100k rows",
            100_000,
            lambda: client.query_arrow("SELECT * FROM ev LIMIT 100000"),
        )
        start = time.perf_counter()
        for _ in range(100):
            client.command("SELECT 1")
        print(f"{'round trip SELECT 1':<34} {(time.perf_counter() - start) * 10:9.2f} ms")
        assert client.command("SELECT count() FROM ev") == total


if __name__ == "__main__":
    main()
