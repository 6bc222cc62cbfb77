"""Binding the port's ``?`` placeholders the way ClickHouse takes parameters.

Callers of ``EventStore.query`` write SQL with positional ``?`` (DuckDB's style); here each
``?`` outside a string literal becomes a typed server-side parameter ``{p0:String}``
(the form clickhouse-connect and chdb both bind), its type read off the Python value.
Values are never spliced into the SQL text, so a parameter cannot change a statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def type_of(value: Any) -> str:
    """The ClickHouse type a Python value is bound as."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "UInt64" if value >= 1 << 63 else "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, Decimal):
        return "Decimal(38, 6)"
    if isinstance(value, datetime):
        return "DateTime64(3, 'UTC')"
    if isinstance(value, date):
        return "Date"
    if isinstance(value, uuid.UUID):
        return "UUID"
    if isinstance(value, list | tuple):
        inner = type_of(value[0]) if value else "String"
        return f"Array({inner})"
    if value is None:
        return "Nullable(String)"
    return "String"


def naive_utc(value: datetime) -> datetime:
    """Timestamps are stored as naive UTC, as in the DuckDB store."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def bind(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``sql`` with its ``?`` placeholders named and typed, and the values by name."""
    if not params:
        return sql, {}
    out: list[str] = []
    named: dict[str, Any] = {}
    i = n = 0
    quote = ""
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == "\\":  # an escaped character inside a literal
                out.append(sql[i : i + 2])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "?":
            if n >= len(params):
                raise ValueError("more ? placeholders than parameters")
            value = params[n]
            if isinstance(value, datetime):
                value = naive_utc(value)
            name = f"p{n}"
            named[name] = value
            out.append(f"{{{name}:{type_of(value)}}}")
            n += 1
            i += 1
            continue
        out.append(ch)
        i += 1
    if n != len(params):
        raise ValueError(f"{len(params)} parameters for {n} ? placeholders")
    return "".join(out), named


def literal(value: Any) -> str:
    """A value as ClickHouse parameter text (chdb takes parameters as strings)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return naive_utc(value).isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_quoted(v) for v in value) + "]"
    if isinstance(value, str):  # parameter values are read in ClickHouse's escaped form
        return value.translate(_ESCAPES)
    return str(value)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _quoted(value: Any) -> str:
    if isinstance(value, str | datetime | date | uuid.UUID):
        text = literal(value).replace("'", "\\'")
        return f"'{text}'"
    return literal(value)
