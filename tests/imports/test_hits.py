"""The block parser (footfall/imports/accesslog/hits.py) against the per-line parser it
stands in for: for every line, generated or odd, both say the same (the same hit, or
malformed), and the common line shape takes the column way, not Python per line."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footfall.imports.accesslog.formats import BadLine, Hit, parser_for
from footfall.imports.accesslog.hits import BlockParser

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GOOD = f'198.51.100.7 - - [05/Mar/2024:08:01:02 +0100] "GET /a?b=1 HTTP/1.1" 200 512 "-" "{UA}"'
ODD = [
    GOOD,
    GOOD.replace('"-"', '"https://x.example/\\"q\\""'),  # escaped quotes in the referrer
    GOOD.replace('"-"', '"a\\\\b\\x22"'),  # an escaped backslash, nginx's \x22
    GOOD.replace("HTTP/1.1", ""),  # no protocol
    GOOD.replace('/a?b=1 HTTP/1.1"', '/a" HTTP/1.1"'),  # a quote in the target
    GOOD.replace("200 512", "200 5 12"),
    GOOD.replace("05/Mar", "31/Feb"),  # no such day
    GOOD.replace("08:01:02", "08:01:60"),
    GOOD.replace("08:01:02", "25:01:02"),
    GOOD.replace("05/Mar", "5/Mar"),
    GOOD.replace("05/Mar", "05/Foo"),
    GOOD.replace("198.51.100.7 ", "198.51.100.7\u2003"),  # a Unicode space
    GOOD.replace("/a?b=1", "/caf\u00e9"),
    GOOD.replace("GET", "G\u0130T"),
    GOOD.replace("200", "\u0662\u0660\u0660"),  # Arabic-Indic digits: Python's \d
    GOOD + ' "extra" 0.003',  # nginx fields after the user agent
    GOOD.replace(UA, "-"),
    GOOD.replace(UA, 'a "quoted" agent'),
    GOOD.replace("+0100", "-0730"),
    "vhost.example:443 " + GOOD,  # Apache's vhost_combined
    "",
    "not a log line",
    GOOD[:60],
    GOOD.replace('"GET', '"GET  '),
]


def _expected(fmt: str, lines: list[str]) -> dict[int, Hit]:
    parse, out = parser_for(fmt), {}
    for i, line in enumerate(lines, 1):
        with contextlib.suppress(BadLine):
            out[i] = parse(line)
    return out


def _parsed(fmt: str, lines: list[str], first: int = 1) -> tuple[dict[int, Hit], int]:
    table, bad = BlockParser(fmt)(pa.array(lines, pa.string()), first)
    rows = table.to_pylist()
    return {r["line"]: Hit(*(r[k] for k in list(r)[1:])) for r in rows}, bad


CADDY = json.dumps(
    {
        "ts": 1709625600.5,
        "status": 200,
        "request": {"client_ip": "203.0.113.4", "method": "GET", "host": "shop.example:443",
                    "uri": "/p", "headers": {"User-Agent": [UA]}},
        "resp_headers": {"Content-Type": ["text/html"]},
    }
)  # fmt: skip


@pytest.mark.parametrize("fmt", ["combined", "nginx", "apache", "caddy-json"])
def test_odd_lines_parse_as_the_per_line_parser_does(fmt: str) -> None:
    lines = [*ODD, CADDY]
    got, bad = _parsed(fmt, lines)
    want = _expected(fmt, lines)
    assert got == want
    assert bad == len(lines) - len(want)
    assert len(want) >= (1 if fmt == "caddy-json" else 10)  # most odd lines are still hits


_PIECES = st.sampled_from(
    ["a", " ", '"', "\\", "-", "[", "]", ":", "/", "0", "9", "\u00e9", "\u2003", "\t", "+"]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(GOOD) - 1), st.text(_PIECES, max_size=3), st.booleans()),
        max_size=4,
    )
)
def test_mutated_lines_parse_as_the_per_line_parser_does(
    edits: list[tuple[int, str, bool]],
) -> None:
    line = GOOD
    for at, text, replace in edits:
        at = min(at, len(line))
        line = line[:at] + text + line[at + (len(text) if replace else 0) :]
    lines = [GOOD, line, line + ' "x"']
    for fmt in ("combined", "apache"):
        assert _parsed(fmt, lines, 7)[0] == {k + 6: v for k, v in _expected(fmt, lines).items()}


def test_the_common_shape_takes_no_python_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = BlockParser._slow

    def spy(self: BlockParser, lines: pa.Array, numbers: pa.Array) -> Any:
        calls.append(len(lines))
        return real(self, lines, numbers)

    monkeypatch.setattr(BlockParser, "_slow", spy)
    lines = [GOOD.replace("/a", f"/p/{i}").replace("02 +", f"{i % 60:02} +") for i in range(500)]
    got, bad = _parsed("combined", [*lines, "garbage"])
    assert (len(got), bad) == (500, 1)
    assert got[2].ts_ms - got[1].ts_ms == 1000 and got[1].target == "/p/0?b=1"
    assert calls == [1]  # only the garbage line went the per-line way


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_line_blocks_are_the_text_files_lines(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from footfall.imports.accesslog import run

    monkeypatch.setattr(run, "BLOCK_BYTES", block)  # 7: lines across blocks
    data = "a\r\nb\n\ncaf\u00e9 \u2003x\r\r\n".encode() + b"bad \xff\xfe bytes\nlast \xe9"
    got = [line for b in run.line_blocks(io.BytesIO(data)) for line in b.to_pylist()]
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="\n")
    assert got == [line.rstrip("\r\n") for line in text]
    assert len(got) == 6
