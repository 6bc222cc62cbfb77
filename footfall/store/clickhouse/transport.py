"""How the ClickHouse store reaches its engine: a server over HTTP (clickhouse-connect) or
the engine in process (chdb). Both speak the same SQL and exchange Arrow; the store above
sees only ``Transport``.

Every request runs with ``SESSION_SETTINGS``, which make ClickHouse answer the way the
port's SQL expects (and the DuckDB store answers): NULL for an aggregate over no rows and
for the missing side of an outer join, ``FINAL`` applied to the replacing tables, UTC.
An answer's statements (``read``) run in process with ``READ_SETTINGS`` besides.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import pyarrow as pa

from footfall.memory import physical_memory
from footfall.store.clickhouse.params import literal

SESSION_SETTINGS: dict[str, Any] = {
    "session_timezone": "UTC",
    "join_use_nulls": 1,
    "aggregate_functions_null_for_empty": 1,
    "final": 1,
    "mutations_sync": 2,
    "lightweight_deletes_sync": 2,
    # A round asks for its event ids and visitors as literal lists (write.py).
    "max_query_size": 256 << 20,
    # A CTE read twice (an answer's events, then their visits) is computed once.
    "enable_materialized_cte": 1,
    # No merging of an insert's own rows by the replacing and aggregating engines: the
    # writer's inserts hold each visit once, reads apply FINAL or aggregate anyway, and the
    # pass cost a writer round 30% of its events insert's CPU and 60% of its visits'.
    "optimize_on_insert": 0,
    # An events insert feeds four materialized views (rollups.py); one after another
    # they made the insert a single-threaded ~25% of a writer round. In parallel the
    # second core takes part: +7% events/s on a drain here (docs/benchmarks.md).
    "parallel_view_processing": 1,
    # An insert repeated with its token reaches the views' tables as a repeat too (those
    # with a deduplication window drop it: events_by_source, by_source.py).
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


# An answer's statements in process (chdb) run on one thread each: a dashboard load asks
# ten panels at once (six requests in flight) of the cores the engine shares with the app
# and the writer, so a statement's second thread only splits the work and merges it again,
# for more CPU per answer. The dashboard set at 10M: 6% less CPU one statement after
# another, alternated in one process (bench/ch_statements.py --ab-setting max_threads=1,
# docs/benchmarks.md). A server (HttpTransport) keeps its own settings: it has cores of
# its own to spread a statement over. The writer's and the jobs' statements are not reads.
# And they read decompressed blocks from the engine's uncompressed cache: the dashboard's
# statements read the same few hundred thousand rows of the same columns each load, and
# decompressing them was a third of their CPU (set CPU 470 -> 328 ms, alternated in one
# process at 10M; the cache then held 185 MB). ClickHouse fills it only from reads of
# under a million rows (``merge_tree_max_rows_to_use_cache``), so a big scan leaves it.
READ_SETTINGS: dict[str, Any] = {"max_threads": 1, "use_uncompressed_cache": 1}
# Its size, a server setting of the engine in process (given when this process first
# opens the path): an eighth of RAM (or of the cgroup's limit), at most 256 MiB, beside
# the DuckDB store's buffer pool of a quarter and 448 MiB (store/duckdb/sizing.py).
CACHE_SHARE = 0.125
CACHE_CAP = 256 << 20


def cache_bytes(ram: int | None = None) -> int:
    """The uncompressed cache's size in process for ``ram`` bytes (this machine's)."""
    ram = physical_memory() if ram is None else ram
    return min(CACHE_CAP, int(ram * CACHE_SHARE))


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is ClickHouse refusing a statement past its memory limit
    (MEMORY_LIMIT_EXCEEDED, code 241): chdb's error and clickhouse-connect's both carry
    the server's text."""
    return "Code: 241." in str(exc)


class Transport(Protocol):
    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table: ...

    def read(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """``arrow`` for an answer's statement (``ClickHouseStore.query``)."""
        ...

    def arrow_batches(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[pa.RecordBatch]: ...

    def insert(self, table: str, data: pa.Table, token: str = "") -> None:
        """Insert Arrow rows; a non-empty ``token`` is the insert deduplication token, so
        a retried insert with the same token is written once."""
        ...

    def close(self) -> None: ...


class ChdbTransport:
    """ClickHouse's engine in this process; one chdb connection per thread (they share
    one engine), each with the session settings applied once."""

    def __init__(self, path: str, database: str = "default") -> None:
        import chdb

        self._connect = chdb.connect
        self.path, self.database = path, database
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def _con(self, reads: bool = False) -> Any:
        """This thread's connection; ``reads``: its second one, for answers, with
        ``READ_SETTINGS`` too (a session's settings are the connection's)."""
        key = "reads" if reads else "con"
        con = getattr(self._local, key, None)
        if con is None:
            con = self._connect(f"{self.path}?uncompressed_cache_size={cache_bytes()}")  # type: ignore[no-untyped-call]
            settings = {**SESSION_SETTINGS, **(READ_SETTINGS if reads else {})}
            for name, value in settings.items():
                con.query(f"SET {name} = {value!r}")
            if self.database != "default":
                con.query(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
                con.query(f"USE `{self.database}`")
            setattr(self._local, key, con)
            with self._lock:
                self._all.append(con)
        return con

    @staticmethod
    def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
        return {k: literal(v) for k, v in params.items()} if params else None

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._con().query(sql, "Null", params=self._params(params))

    def arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        table: pa.Table = self._con().query(sql, "ArrowTable", params=self._params(params))
        return table

    def read(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        con = self._con(reads=True)
        try:
            table: pa.Table = con.query(sql, "ArrowTable", params=self._params(params))
        except Exception as exc:
            if out_of_memory(exc):
                # chdb hands what the refused statement had written to the connection's
                # next statement ("Invalid flatbuffers message"): a throwaway one takes it.
                with contextlib.suppress(Exception):  # failing on that is its purpose
                    con.query("SELECT 1", "ArrowTable")
            raise
        return table

    def arrow_batches(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[pa.RecordBatch]:
        yield from self.arrow(sql, params).to_batches()

    def insert(self, table: str, data: pa.Table, token: str = "") -> None:
        con = self._con()
        columns = ", ".join(f"`{c}`" for c in data.column_names)
        # chdb has no per-query settings: the token is set on this thread's session and
        # cleared again, so no later insert reuses it.
        if token:
            con.query("SET insert_deduplication_token = {t:String}", "Null", params={"t": token})
        try:
            # The engine reads the Arrow columns in place: chdb's Python() table function
            # finds ``rows`` among this frame's variables. (An Arrow IPC stream through
            # ``send_insert`` cost a writer round 35% more CPU in its events insert.)
            rows = data  # noqa: F841
            con.query(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM Python(rows)", "Null")
        finally:
            if token:
                con.query("SET insert_deduplication_token = ''", "Null")

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                con.close()
            self._all.clear()
        self._local = threading.local()


class HttpTransport:
    """A ClickHouse server through clickhouse-connect, one client per thread."""

    def __init__(self, **connect: Any) -> None:
        import clickhouse_connect

        self._get_client = clickhouse_connect.get_client
        self._connect = connect
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._get_client(
                **self._connect, settings=SESSION_SETTINGS, autogenerate_session_id=False
            )
            self._local.client = client
            with self._lock:
                self._all.append(client)
        return client

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._client().command(sql, parameters=dict(params or {}))

    def arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        table: pa.Table = self._client().query_arrow(sql, parameters=dict(params or {}))
        return table

    def read(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        return self.arrow(sql, params)

    def arrow_batches(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[pa.RecordBatch]:
        with self._client().query_arrow_stream(sql, parameters=dict(params or {})) as stream:
            yield from stream

    def insert(self, table: str, data: pa.Table, token: str = "") -> None:
        settings = {"insert_deduplication_token": token} if token else {}
        self._client().insert_arrow(table, data, settings=settings)

    def close(self) -> None:
        with self._lock:
            for client in self._all:
                client.close()
            self._all.clear()
        self._local = threading.local()
