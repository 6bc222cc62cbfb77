"""An answer's statements on the in-process engine run with ``READ_SETTINGS`` (one thread
each: footfall/store/clickhouse/transport.py says why); the writer's statements on the
same thread keep the session's own, and a server's reads keep the server's settings.
Each connection's settings are read back from the engine itself."""

from __future__ import annotations

from pathlib import Path

from footfall.config import Settings
from footfall.store.factory import open_store

# Whether this session's max_threads was set, and to what.
ASK = "SELECT changed, value FROM system.settings WHERE name = 'max_threads'"


def test_reads_run_on_one_thread_in_process_only(tmp_path: Path, store_url: str) -> None:
    store = open_store(Settings(data_dir=tmp_path, store_url=store_url))
    try:
        read = store.query(ASK)
        # The writer's side (the transport's own statements), asked on the same thread.
        written = store._transport.arrow(ASK).to_pylist()  # type: ignore[attr-defined]
        if store_url.startswith("chdb"):
            assert read == [(1, "1")]
        else:  # a server spreads a statement over its own cores
            assert read[0][0] == 0
        assert written[0]["changed"] == 0
        # Both connections see the same tables (one engine): a row written on the one is
        # read on the other.
        store._transport.command(  # type: ignore[attr-defined]
            "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x"
        )
        store._transport.command("INSERT INTO t VALUES (7)")  # type: ignore[attr-defined]
        assert store.query("SELECT x FROM t") == [(7,)]
    finally:
        store.close()
