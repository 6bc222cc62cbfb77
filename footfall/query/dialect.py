"""The few SQL spellings that differ between engines, behind one small interface.

The builder writes standard SQL with ``?`` placeholders and asks the dialect only for
these functions; a backend's ``Capabilities.sql_dialect`` picks the instance. Adding an
engine means adding one class here, not a second copy of any metric.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str

    def regex_match(self, expr: str) -> str:
        return f"regexp_matches({expr}, ?)" if self.name == "duckdb" else f"match({expr}, ?)"

    def contains(self, expr: str, case_sensitive: bool) -> str:
        if self.name == "duckdb":
            return (
                f"contains({expr}, ?)" if case_sensitive else f"contains(lower({expr}), lower(?))"
            )
        return (
            f"position({expr}, ?) > 0"
            if case_sensitive
            else f"positionCaseInsensitive({expr}, ?) > 0"
        )

    def equals(self, expr: str, case_sensitive: bool) -> str:
        return f"{expr} = ?" if case_sensitive else f"lower({expr}) = lower(?)"

    def map_get(self, column: str) -> str:
        """Value of a string map at a bound key, '' when absent."""
        if self.name == "duckdb":
            return f"coalesce({column}[?], '')"
        return f"{column}[?]"

    def strip_scheme(self, expr: str) -> str:
        pattern = r"'^[a-zA-Z][a-zA-Z0-9+.-]*://(www\.)?'"
        if self.name == "duckdb":
            return f"regexp_replace({expr}, {pattern}, '')"
        return f"replaceRegexpOne({expr}, {pattern}, '')"

    def quantile(self, expr: str, q: float) -> str:
        if self.name == "duckdb":
            return f"quantile_cont({expr}, {q})"
        return f"quantileExactInclusive({q})({expr})"

    def money_sum(self, expr: str) -> str:
        """Sum of a DOUBLE money column, each value to the cent first, exactly (DECIMAL)."""
        if self.name == "duckdb":
            return f"sum(CAST({expr} AS DECIMAL(18, 2)))"
        return f"sum(toDecimal64({expr}, 2))"

    def count_distinct(self, expr: str) -> str:
        return f"count(DISTINCT {expr})" if self.name == "duckdb" else f"uniqExact({expr})"

    def millis_between(self, start: str, end: str) -> str:
        return f"date_diff('millisecond', {start}, {end})"

    def add_seconds(self, expr: str, seconds: int) -> str:
        sign = "-" if seconds < 0 else "+"
        return f"({expr} {sign} INTERVAL {abs(int(seconds))} SECOND)"

    def quarter_hour(self, expr: str) -> str:
        """``expr`` truncated to its quarter hour."""
        if self.name == "duckdb":
            return f"time_bucket(INTERVAL 15 MINUTE, {expr})"
        return f"toStartOfFifteenMinutes({expr})"

    def day_number(self, expr: str) -> str:
        """The day of the timestamp ``expr`` as days since 1970-01-01."""
        if self.name == "duckdb":
            return f"(CAST({expr} AS DATE) - DATE '1970-01-01')::INTEGER"
        return f"toInt32(toDate({expr}))"

    @property
    def materialized(self) -> str:
        """What makes a CTE computed once however often it is read ('' where that is
        not spelled out)."""
        return "MATERIALIZED " if self.name == "duckdb" else ""

    def trunc(self, unit: str, expr: str) -> str:
        return f"date_trunc('{unit}', {expr})"


DUCKDB = Dialect("duckdb")
CLICKHOUSE = Dialect("clickhouse")
DIALECTS = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}
