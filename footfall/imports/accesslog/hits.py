"""Log lines to columns of hits, a block of lines at a time: the common line shape of the
combined format by Arrow compute (no Python per line), every other line by the format's own
per-line parser (:func:`~footfall.imports.accesslog.formats.parser_for`).

A block's lines come in as one Arrow string array. For ``combined``, ``nginx`` and
``apache``, the lines of :data:`SIMPLE` shape (a regular expression without captures, run
by RE2 over the whole block) are cut at their quotes and spaces, their times read once per
distinct minute and zone (:class:`~footfall.imports.accesslog.formats.ClfTime`'s own
rules), and their status read as a number. For a line of that shape, the groups of the
per-line parser's expression (``formats._COMBINED``, Python's ``re``) are exactly those
pieces: every field the shape allows ends at a delimiter the shape puts there (a space or
a quote that no field of the shape contains), so the first, greedy, way the per-line
expression tries is the one that matches. The shape leaves out what would make the two
ways differ: backslashes (escapes), characters outside printable ASCII in the fields
Python reads as ``\\S+`` (``\\S`` knows Unicode spaces), a request without a protocol, a
time not of the usual 26 characters. Such lines, and every line of ``caddy-json``, go
through the per-line parser (which also says which are malformed).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from footfall.imports.accesslog.formats import BadLine, ClfTime, Hit, parser_for

# A field Python reads as \S+: printable ASCII but space, quote and backslash.
_N = r"[!#-\[\]-~]"
_D2 = "[0-9]{2}"
_TIME = rf"{_D2}/[A-Z][a-z]{{2}}/[0-9]{{4}}:{_D2}:{_D2}:[0-5][0-9] [+-][0-9]{{4}}"
SIMPLE = (
    rf"^{_N}+ {_N}+ {_N}+ \[{_TIME}\] "
    rf'"{_N}+ {_N}+ [^"\\]*" [0-9]{{3}} {_N}+ "[^"\\]*" "[^"\\]*"'
)
FAST_FORMATS = ("combined", "nginx", "apache")

HITS = pa.schema(
    [
        ("line", pa.int64()),  # 1-based line number in the file
        ("ip", pa.string()),
        ("ts", pa.int64()),  # epoch milliseconds, UTC
        ("method", pa.string()),
        ("target", pa.string()),
        ("status", pa.int64()),
        ("referrer", pa.string()),
        ("user_agent", pa.string()),
        ("host", pa.string()),  # "" when the log does not say
        ("content_type", pa.string()),  # "" when the log does not say
    ]
)


class BlockParser:
    """Parses blocks of one file's lines of format ``fmt`` into :data:`HITS` tables."""

    def __init__(self, fmt: str) -> None:
        self.parse: Callable[[str], Hit] = parser_for(fmt)  # raises on an unknown format
        self.fast = fmt in FAST_FORMATS
        self._clf = ClfTime()
        self._minutes: dict[str, int | None] = {}  # "10/Oct/2000:13:55 -0700" -> ms

    def __call__(self, lines: pa.Array, first: int) -> tuple[pa.Table, int]:
        """The hits of ``lines`` (numbered from ``first``; no line ends) and how many lines
        were malformed."""
        n = len(lines)
        numbers = pa.array(range(first, first + n), pa.int64())
        if not self.fast or not n:
            return self._slow(lines, numbers)
        simple = pc.match_substring_regex(lines, SIMPLE)
        fast, bad = self._fast(lines.filter(simple), numbers.filter(simple))
        if fast.num_rows + bad == n:
            return fast, bad
        slow, bad_slow = self._slow(
            lines.filter(pc.invert(simple)), numbers.filter(pc.invert(simple))
        )
        both = pa.concat_tables([fast, slow]).sort_by("line")
        return both, bad + bad_slow

    def _slow(self, lines: pa.Array, numbers: pa.Array) -> tuple[pa.Table, int]:
        parse = self.parse
        hits: list[Hit] = []
        kept: list[int] = []
        for number, line in zip(numbers.to_pylist(), lines.to_pylist(), strict=True):
            try:
                hits.append(parse(line))
            except BadLine:
                continue
            kept.append(number)
        fields = list(zip(*hits, strict=True)) if hits else [()] * len(Hit._fields)
        columns = [pa.array(kept, pa.int64())]
        columns += [pa.array(f, t) for f, t in zip(fields, HITS.types[1:], strict=True)]
        return pa.Table.from_arrays(columns, schema=HITS), len(lines) - len(hits)

    def _fast(self, lines: pa.Array, numbers: pa.Array) -> tuple[pa.Table, int]:
        parts = pc.split_pattern(lines, '"')
        head = pc.split_pattern(pc.list_element(parts, 0), " ", max_splits=3)
        request = pc.split_pattern(pc.list_element(parts, 1), " ", max_splits=2)
        when = pc.utf8_slice_codeunits(pc.list_element(head, 3), 1, 27)
        ts = self._times(when)
        status = pc.cast(pc.utf8_slice_codeunits(pc.list_element(parts, 2), 1, 4), pa.int64())
        blank = pa.array([""] * len(lines), pa.string())
        table = pa.Table.from_arrays(
            [
                numbers,
                pc.list_element(head, 0),
                ts,
                pc.list_element(request, 0),
                pc.list_element(request, 1),
                status,
                _dash_empty(pc.list_element(parts, 3)),
                _dash_empty(pc.list_element(parts, 5)),
                blank,
                blank,
            ],
            schema=HITS,
        )
        if ts.null_count:  # times no calendar has (31/Feb, 25:00): malformed lines
            table = table.filter(pc.is_valid(ts))
        return table, len(lines) - table.num_rows

    def _times(self, when: pa.Array) -> pa.Array:
        """Epoch milliseconds of 26-character times; null where the time does not exist."""
        minute = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(when, 0, 17), pc.utf8_slice_codeunits(when, 20, 26), ""
        )
        coded = pc.dictionary_encode(minute)
        ms = pa.array([self._minute(k) for k in coded.dictionary.to_pylist()], pa.int64())
        seconds = pc.cast(pc.utf8_slice_codeunits(when, 18, 20), pa.int64())
        return pc.add(pc.take(ms, coded.indices), pc.multiply(seconds, 1000))

    def _minute(self, key: str) -> int | None:
        if key in self._minutes:
            return self._minutes[key]
        if len(self._minutes) > 100_000:
            self._minutes.clear()
        try:  # ClfTime's own rules, on the minute's text with second 00
            got: int | None = self._clf._minute(f"{key[:17]}:00{key[17:]}")
        except (KeyError, ValueError, IndexError):
            got = None
        self._minutes[key] = got
        return got


def _dash_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, "-"), "", values)
