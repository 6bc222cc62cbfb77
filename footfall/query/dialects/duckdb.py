"""DuckDB's spellings of the dialect (footfall/query/dialects/base.py)."""

from __future__ import annotations

from dataclasses import dataclass

SCHEME = r"'^[a-zA-Z][a-zA-Z0-9+.-]*://(www\.)?'"


@dataclass(frozen=True, slots=True)
class DuckDBDialect:
    name: str = "duckdb"

    def regex_match(self, expr: str) -> str:
        return f"regexp_matches({expr}, ?)"

    def contains(self, expr: str, case_sensitive: bool) -> str:
        return f"contains({expr}, ?)" if case_sensitive else f"contains(lower({expr}), lower(?))"

    def equals(self, expr: str, case_sensitive: bool) -> str:
        return f"{expr} = ?" if case_sensitive else f"lower({expr}) = lower(?)"

    def map_get(self, column: str) -> str:
        return f"coalesce({column}[?], '')"

    def strip_scheme(self, expr: str) -> str:
        return f"regexp_replace({expr}, {SCHEME}, '')"

    def quantile(self, expr: str, q: float, where: str = "true") -> str:
        # The interpolation spelled out (not quantile_cont), in the same floating-point
        # steps as the ClickHouse dialect's, so both stores give the same last digit.
        arr = f"list_sort(list({expr}) FILTER (WHERE {expr} IS NOT NULL AND {where}))"
        rn = f"((len({arr}) - 1) * CAST({q} AS DOUBLE))"
        lo = f"{arr}[CAST(floor({rn}) AS BIGINT) + 1]"
        hi = f"{arr}[CAST(ceil({rn}) AS BIGINT) + 1]"
        return f"(CASE WHEN len({arr}) > 0 THEN {lo} + ({hi} - {lo}) * ({rn} - floor({rn})) END)"

    def money_sum(self, expr: str) -> str:
        return f"sum(CAST({expr} AS DECIMAL(18, 2)))"

    def next_value(self, expr: str, partition: str, order: str) -> str:
        return f"lead({expr}) OVER (PARTITION BY {partition} ORDER BY {order})"

    def prev_value(self, expr: str, partition: str, order: str) -> str:
        return f"lag({expr}) OVER (PARTITION BY {partition} ORDER BY {order})"

    def round_half_away(self, expr: str) -> str:
        return f"round({expr})"

    def map_keys_rows(self, column: str) -> str:
        return f"unnest(map_keys({column}))"

    def count_distinct(self, expr: str) -> str:
        return f"count(DISTINCT {expr})"

    def millis_between(self, start: str, end: str) -> str:
        return f"date_diff('millisecond', {start}, {end})"

    def add_seconds(self, expr: str, seconds: int) -> str:
        sign = "-" if seconds < 0 else "+"
        return f"({expr} {sign} INTERVAL {abs(int(seconds))} SECOND)"

    def quarter_hour(self, expr: str) -> str:
        return f"time_bucket(INTERVAL 15 MINUTE, {expr})"

    def day_number(self, expr: str) -> str:
        return f"(CAST({expr} AS DATE) - DATE '1970-01-01')::INTEGER"

    def int_div(self, expr: str, divisor: int) -> str:
        return f"({expr} // {int(divisor)})"

    def month_number(self, expr: str) -> str:
        return f"(year({expr}) * 12 + month({expr}) - 23641)"  # 1970 * 12 + 1

    def bit(self, expr: str) -> str:
        # Both operands UBIGINT: an INTEGER shift widens the result (and bit_or) to HUGEINT.
        return f"(CAST(1 AS UBIGINT) << CAST({expr} AS UBIGINT))"

    def bits_or(self, expr: str) -> str:
        return f"bit_or({expr})"

    def first_values(self, expr: str, order: str, n: int) -> str:
        return f"min_by({expr}, {order}, {int(n)})"

    def element(self, array: str, i: int) -> str:
        return f"{array}[{int(i)}]"

    @property
    def materialized(self) -> str:
        return "MATERIALIZED "

    def trunc(self, unit: str, expr: str) -> str:
        return f"date_trunc('{unit}', {expr})"


DUCKDB = DuckDBDialect()
