"""An answer's statements on the in-process engine run with ``READ_SETTINGS`` (one thread
each, from the uncompressed cache, which the engine is given: footfall/store/clickhouse/
transport.py says why); the writer's statements on the same thread keep the session's
own, and a server's reads keep the server's settings. Each connection's settings are
read back from the engine itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from footfall.config import Settings
from footfall.store.base import StoreBusy
from footfall.store.clickhouse import transport
from footfall.store.factory import open_store

# Whether this session's max_threads and use_uncompressed_cache were set, and to what.
ASK = (
    "SELECT changed, value FROM system.settings "
    "WHERE name IN ('max_threads', 'use_uncompressed_cache') ORDER BY name"
)
CACHE = "SELECT value FROM system.server_settings WHERE name = 'uncompressed_cache_size'"


def test_reads_run_on_one_thread_in_process_only(tmp_path: Path, store_url: str) -> None:
    store = open_store(Settings(data_dir=tmp_path, store_url=store_url))
    try:
        read = store.query(ASK)
        # The writer's side (the transport's own statements), asked on the same thread.
        written = store._transport.arrow(ASK).to_pylist()  # type: ignore[attr-defined]
        if store_url.startswith("chdb"):
            assert read == [(1, "1"), (1, "1")]
            # A fixed size on this machine (an eighth of its RAM, at most 256 MiB).
            assert store.query(CACHE) == [(str(transport.cache_bytes()),)]
            assert transport.cache_bytes(1 << 30) == 128 << 20
            assert transport.cache_bytes(64 << 30) == 256 << 20
        else:  # a server spreads a statement over its own cores, has its own caches
            assert [r[0] for r in read] == [0, 0]
        assert [r["changed"] for r in written] == [0, 0]
        # Both connections see the same tables (one engine): a row written on the one is
        # read on the other.
        store._transport.command(  # type: ignore[attr-defined]
            "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x"
        )
        store._transport.command("INSERT INTO t VALUES (7)")  # type: ignore[attr-defined]
        assert store.query("SELECT x FROM t") == [(7,)]
    finally:
        store.close()


def test_a_read_past_the_memory_limit_says_the_store_is_busy(
    tmp_path: Path, store_url: str
) -> None:
    """ClickHouse refusing a read for memory (code 241) is ``StoreBusy`` (HTTP 503 with
    Retry-After, as on DuckDB), not an error that answers 500."""
    store = open_store(Settings(data_dir=tmp_path, store_url=store_url))
    try:
        big = "SELECT uniqExact(number) FROM numbers(3000000)"
        with pytest.raises(StoreBusy):
            store.query(f"{big} SETTINGS max_memory_usage = 4000000")
        assert store.query(big) == [(3000000,)]
        with pytest.raises(Exception, match="UNKNOWN_TABLE|Unknown table") as other:
            store.query("SELECT * FROM no_such_table")
        assert not isinstance(other.value, StoreBusy)
    finally:
        store.close()
