"""The chdb side of the ClickHouse HTTP stand-in: sessions, settings, statements.

One chdb connection handle per ``session_id`` (plus a pool for requests without
one), all on the same database path in this one process, since a chdb path can
be open in one process only. chdb has no per-query settings, so the settings a
request carries are applied with ``SET`` on its handle, and any a previous
request applied but this one does not carry are reset to ``DEFAULT`` first:
each statement sees exactly its own request's settings, as with a real server.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, cast

import chdb

_CODE = re.compile(r"Code: (\d+)\.")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_connect = cast(Callable[[str], Any], chdb.connect)


class ClickHouseError(Exception):
    """An error as ClickHouse reports it: a numeric code and its ``Code: N. DB::Exception`` text."""

    def __init__(self, code: int, message: str) -> None:
        if not message.startswith("Code: "):
            message = f"Code: {code}. DB::Exception: {message}"
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def from_engine(cls, exc: BaseException) -> ClickHouseError:
        text = str(exc)
        start = text.find("Code: ")
        text = text[start:].strip() if start >= 0 else text.strip()
        match = _CODE.match(text)
        return cls(int(match.group(1)) if match else 1001, text)


@dataclass
class Statement:
    """What to run: a whole SQL text, or an INSERT head plus its data stream."""

    sql: str
    insert_format: str | None = None
    data: Iterator[bytes] | None = None


@dataclass
class Request:
    statement: Statement
    params: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    database: str | None = None
    default_format: str | None = None


@dataclass
class Result:
    body: bytes
    # The X-ClickHouse-Format of a result set; None for statements that return none.
    fmt: str | None
    summary: dict[str, str]


@dataclass
class _Handle:
    conn: Any
    timeout: float = 60.0
    applied: dict[str, str] = field(default_factory=dict)
    database: str = "default"
    users: int = 0  # requests using it now; guarded by Engine._lock
    last_used: float = field(default_factory=time.monotonic)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _varuint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def empty_native_block(columns: list[tuple[str, str]]) -> bytes:
    """A Native block of zero rows: column count, row count, then each name and type."""
    out = bytearray(_varuint(len(columns)) + _varuint(0))
    for name, type_name in columns:
        for text in (name.encode(), type_name.encode()):
            out += _varuint(len(text)) + text
    return bytes(out)


def _summary(res: Any, elapsed: float) -> dict[str, str]:
    return {
        "read_rows": str(res.rows_read()),
        "read_bytes": str(res.bytes_read()),
        "written_rows": str(res.rows_written()),
        "written_bytes": str(res.bytes_written()),
        "elapsed_ns": str(int(elapsed * 1e9)),
    }


class Engine:
    """All chdb handles of one stand-in process, on one database path."""

    def __init__(self, path: str) -> None:
        self._path = path
        # Held for the life of the process, so the path stays this process's.
        self._primary = _connect(path)
        self._sessions: dict[str, _Handle] = {}
        self._pool: list[_Handle] = []
        self._lock = threading.Lock()
        self.timezone = self._primary.query("SELECT timezone()", "TabSeparated").bytes().decode()
        self.timezone = self.timezone.strip()

    @contextmanager
    def handle(self, session_id: str | None, timeout: float) -> Iterator[_Handle]:
        with self._lock:
            self._expire()
            if session_id is None:
                h = self._pool.pop() if self._pool else _Handle(_connect(self._path))
            else:
                h = self._sessions.get(session_id) or _Handle(_connect(self._path))
                if h.users:
                    # As ClickHouse does: a session serves one request at a time and a
                    # second one fails rather than waits.
                    raise ClickHouseError(
                        373,
                        f"Session {session_id} is locked by a concurrent client. (SESSION_IS_LOCKED)",
                    )
                self._sessions[session_id] = h
            h.users += 1
            h.timeout = timeout
        try:
            yield h
        finally:
            with self._lock:
                h.users -= 1
                h.last_used = time.monotonic()
                if session_id is None:
                    self._pool.append(h)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid, h in list(self._sessions.items()):
            if h.users == 0 and now - h.last_used > h.timeout:
                del self._sessions[sid]
                h.conn.close()

    def run(self, h: _Handle, req: Request) -> Result:
        try:
            self._use(h, req.database)
            self._apply(h, req.settings)
            started = time.perf_counter()
            if req.statement.data is not None:
                return self._insert(h, req.statement, started)
            return self._query(h, req, started)
        except ClickHouseError:
            raise
        except Exception as exc:
            # chdb hands what a refused statement had written (past its memory limit, say)
            # to the connection's next statement: a throwaway one takes it.
            with contextlib.suppress(Exception):
                h.conn.query("SELECT 1", "TabSeparated")
            raise ClickHouseError.from_engine(exc) from None

    def _use(self, h: _Handle, database: str | None) -> None:
        if database and database != h.database:
            h.conn.query(f"USE `{database.replace('`', '``')}`", "TabSeparated")
            h.database = database

    def _apply(self, h: _Handle, settings: dict[str, str]) -> None:
        """Make the handle's settings this request's: SET what differs, reset what it lacks.

        Only settings that came from URLs are tracked, so a request without a setting
        also resets one a session's own ``SET`` statement changed (a real server would
        keep that); clickhouse-connect sends its client settings with every request.
        """
        for name in [n for n in h.applied if n not in settings]:
            h.conn.query(f"SET {name} = DEFAULT", "TabSeparated")
            del h.applied[name]
        for name, value in settings.items():
            if h.applied.get(name) == value:
                continue
            if not _SETTING_NAME.match(name):
                raise ClickHouseError(115, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
            h.conn.query(f"SET {name} = {_quote(value)}", "TabSeparated")
            h.applied[name] = value

    def _insert(self, h: _Handle, st: Statement, started: float) -> Result:
        assert st.data is not None and st.insert_format is not None
        inserter = h.conn.send_insert(st.sql, st.insert_format)
        try:
            for chunk in st.data:
                inserter.append(chunk)
            done = inserter.finish()
        except BaseException:
            with suppress(Exception):
                inserter.cancel()
            raise
        summary = {
            "read_rows": str(done.rows_written),
            "read_bytes": str(done.bytes_written),
            "written_rows": str(done.rows_written),
            "written_bytes": str(done.bytes_written),
            "elapsed_ns": str(int((time.perf_counter() - started) * 1e9)),
        }
        return Result(b"", None, summary)

    def _query(self, h: _Handle, req: Request, started: float) -> Result:
        sql = req.statement.sql
        params = req.params
        is_insert = sql.lstrip()[:6].upper() == "INSERT"
        trailing = None if is_insert else _TRAILING_FORMAT.search(sql)
        if trailing:
            res = h.conn.query(sql, "TabSeparated", params=params)
            body, fmt = res.bytes(), trailing.group(1)
            if not body and fmt == "Native":
                body = self._empty_native(h, sql[: trailing.start()], params)
        elif req.default_format:
            res = h.conn.query(sql, req.default_format, params=params)
            body, fmt = res.bytes(), req.default_format
        else:
            # A statement returning a result set always writes the names line, even
            # for no rows; HTTP reports that as X-ClickHouse-Format, DDL gets none.
            res = h.conn.query(sql, "TabSeparatedWithNames", params=params)
            named = res.bytes()
            body = named[named.find(b"\n") + 1 :] if named else b""
            fmt = "TabSeparated" if named else None
        return Result(body, fmt, _summary(res, time.perf_counter() - started))

    def _empty_native(self, h: _Handle, sql: str, params: dict[str, str]) -> bytes:
        """chdb writes nothing for a Native result of no rows; ClickHouse writes the header."""
        try:
            described = h.conn.query(f"DESCRIBE ({sql})", "JSONCompactEachRow", params=params)
            rows = [json.loads(line) for line in described.bytes().splitlines()]
            columns = [(str(r[0]), str(r[1])) for r in rows]
        except Exception:
            # Not a SELECT (SHOW, EXISTS, ...): JSON output carries the columns even for no rows.
            meta = h.conn.query(f"{sql} FORMAT JSONCompact", "TabSeparated", params=params)
            parsed = json.loads(meta.bytes() or b'{"meta": []}')
            columns = [(m["name"], m["type"]) for m in parsed["meta"]]
        return empty_native_block(columns) if columns else b""
