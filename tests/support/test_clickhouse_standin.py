"""The ClickHouse stand-in's protocol, driven by clickhouse-connect as the product drives ClickHouse.

Every test talks HTTP to a real stand-in subprocess over a real chdb engine;
expected values come from the rows each test builds. Sessions, concurrency and
the process's lifetime are in test_standin_sessions.py.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.clickhouse import connect, standin

pytestmark = pytest.mark.slow

TABLE = """CREATE TABLE hits (id UInt64, path String, site LowCardinality(String), ts DateTime)
ENGINE = MergeTree ORDER BY id"""


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with standin(tmp_path) as u:
        yield u


def rows(start: int, n: int) -> list[list[Any]]:
    return [
        [i, f"/p/{i % 97}", f"site{i % 3}", datetime(2024, 1, 1, i % 24, i % 60)]
        for i in range(start, start + n)
    ]


def test_ping_answers_ok(url: str) -> None:
    client = connect(url)
    assert client.ping()
    port = url.rsplit(":", 1)[1].split("/")[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping") as r:
        assert r.read() == b"Ok.\n"


@pytest.mark.parametrize("compress", [True, "gzip", False])
def test_insert_and_insert_arrow_read_back_exactly(url: str, compress: Any) -> None:
    client = connect(url, compress=compress)
    client.command(TABLE)
    first = rows(0, 10_000)
    summary = client.insert("hits", first, column_names=["id", "path", "site", "ts"])
    assert summary.written_rows == 10_000

    import pyarrow as pa

    second = rows(10_000, 10_000)
    table = pa.table(
        {
            "id": pa.array([r[0] for r in second], pa.uint64()),
            "path": [r[1] for r in second],
            "site": [r[2] for r in second],
            "ts": pa.array([r[3] for r in second], pa.timestamp("s")),
        }
    )
    client.insert_arrow("hits", table)

    everything = first + second
    assert client.command("SELECT count() FROM hits") == 20_000
    got = client.query("SELECT id, path, site, ts FROM hits ORDER BY id").result_rows
    assert [list(r) for r in got] == everything
    by_site = client.query("SELECT site, count() FROM hits GROUP BY site ORDER BY site")
    expected = {f"site{k}": sum(1 for r in everything if r[2] == f"site{k}") for k in range(3)}
    assert dict(by_site.result_rows) == expected
    arrow = client.query_arrow("SELECT id, path FROM hits WHERE id >= 19998 ORDER BY id")
    assert arrow.column("id").to_pylist() == [19998, 19999]
    assert arrow.column("path").to_pylist() == [f"/p/{19998 % 97}", f"/p/{19999 % 97}"]
    with client.query_arrow_stream("SELECT id FROM hits ORDER BY id") as stream:
        streamed = [i for batch in stream for i in batch.column("id").to_pylist()]
    assert streamed == [r[0] for r in everything]


def test_insert_data_that_starts_like_whitespace(url: str) -> None:
    # Ten columns: the Native block starts with byte 0x0A, a newline, right after
    # "FORMAT Native\n"; a column named format must not end the statement early.
    client = connect(url)
    names = ["format", *[f"c{i}" for i in range(9)]]
    client.command(
        f"CREATE TABLE wide ({', '.join(f'`{n}` UInt16' for n in names)}) ENGINE = MergeTree ORDER BY c0"
    )
    data = [[r * 10 + c for c in range(10)] for r in range(300)]
    client.insert("wide", data, column_names=names)
    got = client.query(
        f"SELECT {', '.join(f'`{n}`' for n in names)} FROM wide ORDER BY c0"
    ).result_rows
    assert [list(r) for r in got] == data


def test_bound_string_with_quotes_round_trips(url: str) -> None:
    client = connect(url)
    client.command("CREATE TABLE names (n String) ENGINE = MergeTree ORDER BY n")
    tricky = 'it\'s a "quoted" \\ value; DROP TABLE names --'
    client.insert("names", [[tricky], ["plain"]], column_names=["n"])
    q = client.query(
        "SELECT {x:String} AS v, count() FROM names WHERE n = {x:String}", parameters={"x": tricky}
    )
    assert q.result_rows == [(tricky, 1)]


def test_long_bound_value_goes_through_a_form(url: str) -> None:
    # Over 4 KiB of bind parameters, clickhouse-connect sends a multipart form.
    long = "ab'c" * 2000
    q = connect(url).query(
        "SELECT length({x:String}), {x:String} = {y:String}", parameters={"x": long, "y": long}
    )
    assert q.result_rows == [(8000, True)]


def test_zero_row_result_has_column_names_and_types(url: str) -> None:
    client = connect(url)
    client.command(TABLE)
    q = client.query(
        "SELECT id, path AS where_to, count() AS n FROM hits WHERE id > {x:UInt64} GROUP BY id, path",
        parameters={"x": 5},
    )
    assert q.result_rows == []
    assert q.column_names == ("id", "where_to", "n")
    assert [t.name for t in q.column_types] == ["UInt64", "String", "UInt64"]
    assert client.query("SHOW TABLES LIKE 'nothing%'").column_names == ("name",)


def test_bad_sql_raises_database_error_with_clickhouse_text(url: str) -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError

    client = connect(url)
    with pytest.raises(DatabaseError, match=r"Code: 62\. DB::Exception: Syntax error"):
        client.query("SELEC 1 FROM")
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE") as info:
        client.command("SELECT * FROM missing")
    assert info.value.code == 60
    with pytest.raises(DatabaseError, match="UNKNOWN_TABLE"):
        client.insert("missing", [[1]], column_names=["a"], column_type_names=["UInt8"])
    client.command("CREATE TABLE nums (a UInt8) ENGINE = MergeTree ORDER BY a")
    with pytest.raises(DatabaseError, match=r"(?s)Code: 117\. DB::Exception: .*is not like UInt8"):
        client.raw_insert("nums", ["a"], insert_block="1\nnot a number\n", fmt="CSV")
    assert client.command("SELECT 41 + 1") == 42  # the connection survives errors
    assert client.command("SELECT count() FROM nums") == 0


def test_settings_apply_to_their_own_request_only(url: str) -> None:
    client = connect(url)
    default = client.command("SELECT getSetting('max_block_size')")
    assert (
        client.command("SELECT getSetting('max_block_size')", settings={"max_block_size": 1234})
        == 1234
    )
    assert client.command("SELECT getSetting('max_block_size')") == default


def test_same_dedup_token_inserts_once(url: str) -> None:
    client = connect(url)
    client.command(
        "CREATE TABLE ev (id UInt64) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100"
    )
    batch = [[i] for i in range(500)]
    for token in ("batch-1", "batch-1", "batch-2"):
        client.insert(
            "ev", batch, column_names=["id"], settings={"insert_deduplication_token": token}
        )
    assert client.command("SELECT count() FROM ev") == 1000
    # The token of the last insert must not stick to the session's next one.
    client.insert("ev", batch, column_names=["id"])
    assert client.command("SELECT count() FROM ev") == 1500


def test_database_parameter_selects_the_database(url: str) -> None:
    connect(url).command("CREATE DATABASE analytics")
    client = connect(url, database="analytics")
    client.command("CREATE TABLE visits (n UInt8) ENGINE = MergeTree ORDER BY n")
    client.insert("visits", [[5]], column_names=["n"])
    assert connect(url).command("SELECT sum(n) FROM analytics.visits") == 5
    assert connect(url).command("EXISTS TABLE default.visits") == 0


def test_round_trip_is_not_held_back_by_nagle(url: str) -> None:
    # Without TCP_NODELAY every response waits ~40 ms for the client's delayed ACK.
    client = connect(url)
    took = []
    for _ in range(15):
        start = time.perf_counter()
        client.command("SELECT 1")
        took.append(time.perf_counter() - start)
    assert statistics.median(took) < 0.025, took
