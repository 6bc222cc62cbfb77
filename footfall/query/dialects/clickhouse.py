"""ClickHouse's spellings of the dialect (footfall/query/dialects/base.py).

Functions are chosen to give exactly DuckDB's answers: ``uniqExact`` (never ``uniq``),
``quantileExactInclusive`` (DuckDB's interpolated ``quantile_cont``), DECIMAL money.
"""

from __future__ import annotations

from dataclasses import dataclass

from footfall.query.dialects.duckdb import SCHEME


@dataclass(frozen=True, slots=True)
class ClickHouseDialect:
    name: str = "clickhouse"

    def regex_match(self, expr: str) -> str:
        return f"match({expr}, ?)"

    def contains(self, expr: str, case_sensitive: bool) -> str:
        if case_sensitive:
            return f"position({expr}, ?) > 0"
        return f"positionCaseInsensitiveUTF8({expr}, ?) > 0"

    def equals(self, expr: str, case_sensitive: bool) -> str:
        return f"{expr} = ?" if case_sensitive else f"lowerUTF8({expr}) = lowerUTF8(?)"

    def map_get(self, column: str) -> str:
        return f"{column}[?]"  # a missing key reads as '' already

    def strip_scheme(self, expr: str) -> str:
        return f"replaceRegexpOne({expr}, {SCHEME}, '')"

    def quantile(self, expr: str, q: float, where: str = "true") -> str:
        # As the DuckDB dialect's, step for step (quantileExactInclusive differs from
        # DuckDB's quantile_cont in the last bits).
        arr = f"arraySort(groupArrayIf({expr}, {where}))"
        rn = f"((length({arr}) - 1) * toFloat64({q}))"
        lo = f"{arr}[toUInt64(floor({rn})) + 1]"
        hi = f"{arr}[toUInt64(ceil({rn})) + 1]"
        return f"if(length({arr}) > 0, {lo} + ({hi} - {lo}) * ({rn} - floor({rn})), NULL)"

    def money_sum(self, expr: str) -> str:
        # DuckDB's CAST(x AS DECIMAL(18, 2)): x * 100 rounded half away from zero (round()
        # on a Float64 would round half to even), then exact cents.
        cents = f"toDecimal128(sign({expr}) * floor(abs({expr}) * 100 + 0.5), 0)"
        return f"sum({cents} * toDecimal128('0.01', 2))"

    def next_value(self, expr: str, partition: str, order: str) -> str:
        # Nullable, so the last row's next value is NULL (not the type's default).
        return (
            f"leadInFrame(toNullable({expr})) OVER (PARTITION BY {partition} ORDER BY {order} "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
        )

    def prev_value(self, expr: str, partition: str, order: str) -> str:
        return (
            f"lagInFrame(toNullable({expr})) OVER (PARTITION BY {partition} ORDER BY {order} "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
        )

    def round_half_away(self, expr: str) -> str:
        # round() on a Float64 rounds halves to even here.
        return f"(sign({expr}) * floor(abs({expr}) + 0.5))"

    def map_keys_rows(self, column: str) -> str:
        return f"arrayJoin(mapKeys({column}))"

    def count_distinct(self, expr: str) -> str:
        return f"uniqExact({expr})"

    def millis_between(self, start: str, end: str) -> str:
        return f"dateDiff('millisecond', {start}, {end})"

    def add_seconds(self, expr: str, seconds: int) -> str:
        sign = "-" if seconds < 0 else "+"
        return f"({expr} {sign} INTERVAL {abs(int(seconds))} SECOND)"

    def quarter_hour(self, expr: str) -> str:
        return f"toStartOfFifteenMinutes({expr})"

    def day_number(self, expr: str) -> str:
        return f"toInt32(toDate({expr}))"

    def int_div(self, expr: str, divisor: int) -> str:
        return f"intDiv({expr}, {int(divisor)})"

    def month_number(self, expr: str) -> str:
        return f"(toYear({expr}) * 12 + toMonth({expr}) - 23641)"  # 1970 * 12 + 1

    def bit(self, expr: str) -> str:
        return f"bitShiftLeft(toUInt64(1), {expr})"

    def bits_or(self, expr: str) -> str:
        return f"groupBitOr({expr})"

    def first_values(self, expr: str, order: str, n: int) -> str:
        pairs = f"arraySort(groupArray(({order}, {expr})))"
        return f"arraySlice(arrayMap(x -> x.2, {pairs}), 1, {int(n)})"

    def element(self, array: str, i: int) -> str:
        # Past the end ClickHouse gives the type's default ('' for a string), not NULL.
        return f"if(length({array}) >= {int(i)}, {array}[{int(i)}], NULL)"

    @property
    def materialized(self) -> str:
        return "MATERIALIZED "  # with the session's enable_materialized_cte

    def trunc(self, unit: str, expr: str) -> str:
        return f"date_trunc('{unit}', {expr})"


CLICKHOUSE = ClickHouseDialect()
