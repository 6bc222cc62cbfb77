"""Unroll the ``for ... <- [...] do`` comprehensions of an ExUnit file and cut it into tests.

Plausible generates some tests with ``for {dimension, column, ...} <- [...] do test ...``
(``unquote(column)`` inside) and repeats some requests with ``for dimension <- [...] do``
inside a test. Both are unrolled into plain text here, one copy per element, so the
converter only ever reads straight-line tests. Tests are found by ``mix format``'s
layout: a ``test "..."`` line and the ``end`` at the same indentation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from scripts.plausible_replay.exs import Atom, Reader, Unconvertible, evaluate

FOR = re.compile(r"^( *)for (\{[^}]*\}|\w+) <- \[", re.MULTILINE)


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _raw(node: Any) -> Any:
    return f":{node.name}" if isinstance(node, Atom) else evaluate(node, {})


def _substitute(body: str, names: list[str], values: list[Any]) -> str:
    for name, value in zip(names, values, strict=True):
        text = value[1:] if isinstance(value, str) and value.startswith(":") else value
        lit = value if isinstance(value, str) and value.startswith(":") else _literal(value)
        body = body.replace(f"unquote({name})", lit).replace("#{" + name + "}", str(text))
        body = re.sub(rf"(?<![\w.:\"]){name}(?![\w:\"])", lit, body)
    return body


def unroll(text: str) -> str:
    """``text`` with every ``for x <- [...] do ... end`` block repeated per element."""
    while (m := FOR.search(text)) is not None:
        indent, pattern = m.group(1), m.group(2)
        names = [n.strip() for n in pattern.strip("{}").split(",")]
        reader = Reader(text, m.end() - 1)
        items = reader._primary()
        do = text.index("do\n", reader.pos) + 3
        end = re.compile(rf"^{indent}end$", re.MULTILINE).search(text, do)
        if end is None:
            raise Unconvertible("a for block without its end")
        body = text[do : end.start()]
        copies = []
        for item in items:
            values = [_raw(v) for v in item] if isinstance(item, tuple) else [_raw(item)]
            copies.append(_substitute(body, names, values))
        text = text[: m.start()] + "".join(copies) + text[end.end() + 1 :]
    return text


@dataclass
class Test:
    name: str
    body: str
    setup: str  # the enclosing describe's ``setup`` block, which may populate stats


def tests(text: str) -> list[Test]:
    """The tests of an unrolled file, in order, each with its describe's setup."""
    text = "\n".join("" if line.lstrip().startswith("#") else line for line in text.split("\n"))
    describes: list[tuple[int, int, str]] = []
    for d in re.finditer(r'^( *)describe "[^"]*" do$', text, re.MULTILINE):
        end = re.compile(rf"^{d.group(1)}end$", re.MULTILINE).search(text, d.end())
        stop = end.start() if end else len(text)
        setup = re.search(
            r"^( *)setup %\{site: site\}(?: = context)? do$(.*?)^\1end$",
            text[d.end() : stop],
            re.MULTILINE | re.DOTALL,
        )
        describes.append((d.end(), stop, setup.group(2) if setup else ""))
    out = []
    for t in re.finditer(r'^( *)test "((?:[^"\\]|\\.)*)"', text, re.MULTILINE):
        end = re.compile(rf"^{t.group(1)}end$", re.MULTILINE).search(text, t.end())
        body = text[t.end() : end.start() if end else len(text)]
        before = next((s for a, b, s in describes if a <= t.start() < b), "")
        out.append(Test(t.group(2), body, before))
    return out
