"""Regular expressions in filters, checked by the engine's own rules before any SQL runs.

``matches`` filters become ``regexp_matches`` (DuckDB) or ``match`` (ClickHouse); both
compile the pattern with RE2, which refuses much that Python's ``re`` accepts
(look-arounds, back-references, possessive quantifiers, ``\\Z``, ``(?P=name)``) and
patterns that compile too large. Refused inside the store, such a pattern was a 500, and
only once a scan reached a row. So the pattern is compiled here, once, by DuckDB's own
RE2 in a private in-memory database. DuckDB bundles an older RE2 than ClickHouse's,
which only ever added syntax (``(?<name>...)``), so what passes here passes on both.
(The ``google-re2`` package was tried: its newer RE2 accepts ``(?<name>...)``, which
DuckDB refuses.)
"""

from __future__ import annotations

import threading
from functools import lru_cache

import duckdb

from footfall.ingest.validate import FieldError

_lock = threading.Lock()
_db: duckdb.DuckDBPyConnection | None = None


def _engine() -> duckdb.DuckDBPyConnection:
    global _db
    if _db is None:
        _db = duckdb.connect(":memory:", config={"threads": 1})
    return _db


@lru_cache(maxsize=1024)
def _problem(pattern: str) -> str | None:
    """Why RE2 refuses ``pattern``, or None if it compiles."""
    with _lock:  # one connection, used by one thread at a time
        try:
            _engine().execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.InvalidInputException as exc:
            return str(exc).removeprefix("Invalid Input Error: ")
    return None


def check_pattern(pattern: str, path: str) -> None:
    """FieldError at ``path`` unless the query engines will compile ``pattern``."""
    problem = _problem(pattern)
    if problem is not None:
        raise FieldError(path, f"invalid regular expression: {problem} (in {pattern})")
