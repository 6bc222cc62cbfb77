"""The few SQL spellings that differ between engines, as one protocol.

The builder writes standard SQL with ``?`` placeholders and asks the dialect only for
these spellings; a store's ``Capabilities.sql_dialect`` names the implementation
(``footfall/query/dialects/duckdb.py``, ``clickhouse.py``). Adding an engine means adding
one module here, never a second copy of a metric. Binding the ``?`` placeholders the way
the engine's client wants them (``{p0:String}`` for ClickHouse) is the store's job, since
other callers of ``EventStore.query`` write ``?`` too.
"""

from __future__ import annotations

from typing import Protocol


class Dialect(Protocol):
    @property
    def name(self) -> str: ...

    def regex_match(self, expr: str) -> str:
        """``expr`` matches the bound RE2 pattern (a partial match)."""
        ...

    def contains(self, expr: str, case_sensitive: bool) -> str: ...

    def equals(self, expr: str, case_sensitive: bool) -> str: ...

    def map_get(self, column: str) -> str:
        """Value of a string map at a bound key, '' when absent."""
        ...

    def strip_scheme(self, expr: str) -> str: ...

    def quantile(self, expr: str, q: float, where: str = "true") -> str:
        """The exact, interpolated ``q`` quantile of the non-NULL values of ``expr`` in rows
        where ``where`` holds: v[floor(r)] + (v[ceil(r)] - v[floor(r)]) * (r - floor(r)),
        r = (n - 1) * q over the sorted values, as DOUBLE; NULL for no values."""
        ...

    def money_sum(self, expr: str) -> str:
        """Sum of a DOUBLE money column, each value to the cent first, exactly (DECIMAL)."""
        ...

    def next_value(self, expr: str, partition: str, order: str) -> str:
        """``expr`` of the next row in the partition (window), NULL for the last."""
        ...

    def prev_value(self, expr: str, partition: str, order: str) -> str:
        """``expr`` of the previous row in the partition (window), NULL for the first."""
        ...

    def round_half_away(self, expr: str) -> str:
        """``expr`` rounded to an integer, halves away from zero (DuckDB's round)."""
        ...

    def map_keys_rows(self, column: str) -> str:
        """One row per key of the map ``column`` (a set-returning expression)."""
        ...

    def count_distinct(self, expr: str) -> str:
        """Exact distinct count (never a sketch: both stores must agree)."""
        ...

    def millis_between(self, start: str, end: str) -> str: ...

    def add_seconds(self, expr: str, seconds: int) -> str: ...

    def quarter_hour(self, expr: str) -> str:
        """``expr`` truncated to its quarter hour."""
        ...

    def day_number(self, expr: str) -> str:
        """The day of the timestamp ``expr`` as days since 1970-01-01."""
        ...

    def int_div(self, expr: str, divisor: int) -> str:
        """``expr`` (a non-negative integer) divided by ``divisor``, rounded down."""
        ...

    def month_number(self, expr: str) -> str:
        """The month of the timestamp ``expr`` as months since 1970-01."""
        ...

    def bit(self, expr: str) -> str:
        """The unsigned 64-bit integer with only bit ``expr`` (0-63) set."""
        ...

    def bits_or(self, expr: str) -> str:
        """The bitwise OR of the unsigned 64-bit ``expr`` over a group (an aggregate)."""
        ...

    def first_values(self, expr: str, order: str, n: int) -> str:
        """The aggregate list of ``expr`` in the group's ``n`` rows of smallest ``order``
        (distinct integers), in that order."""
        ...

    def element(self, array: str, i: int) -> str:
        """The ``i``-th (from 1) element of ``array``, NULL past its end."""
        ...

    @property
    def materialized(self) -> str:
        """What makes a CTE computed once however often it is read ('' where that is
        not spelled out)."""
        ...

    def trunc(self, unit: str, expr: str) -> str: ...
